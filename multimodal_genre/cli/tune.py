"""``tune``: an Optuna study per model, then its best settings re-trained and tested once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from multimodal_genre import log, progress
from multimodal_genre.cli.common import (
    add_data_options,
    add_split_option,
    add_track_option,
    add_verbose_option,
    add_worker_options,
    as_options,
    check_model_names,
    check_tracking,
    command_line,
    config_for,
    data_source,
    model_for,
    recipe_for,
    training_on,
    workers_for,
)
from multimodal_genre.errors import ConfigError
from multimodal_genre.families import FAMILIES

if TYPE_CHECKING:
    import pandas as pd

    from multimodal_genre.config import Config
    from multimodal_genre.data import GenreDataset
    from multimodal_genre.recipes import Recipe
    from multimodal_genre.search import SearchConfig
    from multimodal_genre.tuning import StudyOptions, TuningResult
    from multimodal_genre.workers import Workers

TUNING_DIR = Path("reports/tuning")


def add_commands(commands: argparse._SubParsersAction) -> None:
    tune = commands.add_parser(
        "tune", help="tune a model with Optuna, keeping its settings unless a winner beats them beyond the noise"
    )
    tune.add_argument(
        "--model", metavar="MODEL", help=f"which model to tune: {', '.join(FAMILIES)} or all (default: the recipe's)"
    )
    tune.add_argument("--trials", type=int, help="trials to run in this process (at least one of --trials, --timeout)")
    tune.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    tune.add_argument(
        "--storage", help="study storage URL, e.g. postgresql://user@host/db (default: an SQLite file under --out)"
    )
    tune.add_argument(
        "--study-name", help="study to create or resume (default: the model's name; with --model all, NAME-<model>)"
    )
    tune.add_argument("--folds", type=int, help="objective: mean over K grouped inner folds of train + validation")
    tune.add_argument("--repeats", type=int, default=1, help="draw the inner folds R times, each shuffled anew")
    tune.add_argument(
        "--outer-folds",
        type=int,
        help="a study in each of K outer grouped folds, tested beside the untuned model: does tuning gain?",
    )
    tune.add_argument(
        "--search", type=Path, help="YAML file with the changes to configs/search.yaml (default: the recipe's, if any)"
    )
    add_data_options(tune, recipes=True)
    add_split_option(tune)
    add_worker_options(tune)
    add_track_option(tune)
    add_verbose_option(tune)
    tune.add_argument("--out", type=Path, default=TUNING_DIR, help=f"folder for study reports (default: {TUNING_DIR})")
    tune.set_defaults(handler=tune_models)


def tune_models(args: argparse.Namespace) -> int:
    check_model_names([args.model] if args.model else [], "--model", also=("all",))
    if args.trials is None and args.timeout is None:
        raise ConfigError("tune needs --trials N or --timeout SECONDS (or both)")
    if "tensorboard" in args.track:
        raise ConfigError(
            "--track tensorboard: for train and compare (a study's trials are in MLflow or optuna-dashboard)"
        )
    if args.track and args.outer_folds:
        raise ConfigError("--track: studies over outer folds are not tracked yet (track each with --folds)")
    source = data_source(args.data)  # argument and path errors come before the heavy imports
    import optuna

    from multimodal_genre.search import load_search
    from multimodal_genre.tuning import StudyOptions

    check_tracking(args)
    with as_options():
        options = StudyOptions(args.trials, args.timeout, args.study_name, args.folds, args.repeats, args.outer_folds)
    recipe = recipe_for(args)
    model = model_for(args, recipe)
    workers = workers_for(args)
    config = config_for(args, recipe, source)
    search = load_search(config, args.search or (recipe.search_path if recipe else None))
    dataset = source.load(config)
    # A stack is tuned alone (--model stack): each of its trials trains its base models again.
    trainable = [name for name in config.models if not FAMILIES[name].composite]
    models = trainable if model == "all" else [model]
    # Optuna's progress bar (terminal) or one line per trial (log) replaces its own log records.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = args.trials * len(models) * (args.outer_folds or 1) if args.trials else None
    with workers, progress.job(trials, "trial"):
        log.say(training_on(workers))
        for model in models:
            name = args.study_name if len(models) == 1 else (f"{args.study_name}-{model}" if args.study_name else None)
            _tune_model(model, dataset, config, search, options, name, args, recipe, workers)
    log.say(*source.closing(f"tune --model {model} --trials {args.trials or 20} --folds 3"))
    return 0


def _tune_model(
    model: str,
    dataset: GenreDataset,
    config: Config,
    search: SearchConfig,
    options: StudyOptions,
    name: str | None,
    args: argparse.Namespace,
    recipe: Recipe | None,
    workers: Workers,
) -> None:
    """One model's study (or one per outer fold), and how it ended."""
    from multimodal_genre.data import split_for
    from multimodal_genre.records import Provenance
    from multimodal_genre.tuning import tune_outer_folds, tuning_for

    info = recipe.info if recipe else None
    provenance = Provenance(command_line(), info)
    study = tuning_for(model, dataset, config, search, options, args.storage, provenance, workers)
    name = name or model
    if options.outer_folds:
        table = tune_outer_folds(study, name, args.out)
        log.say(*outer_lines(model, table), f"Summary: {args.out / name / 'outer_folds.md'}")
        return
    result = study.run(name, split_for(dataset, config.split), args.out / name)
    log.say(*outcome_lines(result, options))
    if "mlflow" in args.track:
        _track(result.study_name, result.directory, args)


def outer_lines(model: str, table: pd.DataFrame) -> list[str]:
    """Each outer fold's test macro-F1 (configured settings, decision, winner), then the verdict."""
    from multimodal_genre.tuning.reports import outer_verdict

    columns = f"  {'fold':<5} {'configured':<11} {'decision':<9} {'winner':<7} kept"
    rows = [
        f"  {row.fold:<5} {row.untuned_macro_f1:<11.3f} {row.tuned_macro_f1:<9.3f} {row.winner_macro_f1:<7.3f} "
        f"{row.kept}"
        for row in table.itertuples()
    ]
    verdict = outer_verdict(table).replace("**", "")
    return [
        f"{model}: test macro-F1 per outer fold",
        columns,
        *rows,
        f"{model} over {len(table)} outer folds. {verdict}",
    ]


def outcome_lines(result: TuningResult, options: StudyOptions) -> list[str]:
    """How a study ended, within 80 columns: the configured settings' and the winner's inner scores,
    their difference with its interval, the decision, and the test score of the settings kept."""
    counts, decision = result.counts, result.decision
    over = f"mean over {options.folds} grouped inner folds" if options.folds else "the validation split"
    rows = {
        f"configured settings (trial {decision.default_trial})": f"{decision.default_score:.4f}",
        f"winner (trial {decision.winner_trial})": f"{decision.winner_score:.4f}",
        "winner - configured": f"{decision.difference:+.4f}, {decision.interval_words()}",
    }
    width = max(map(len, rows))
    return [
        f"Study '{result.study_name}': {counts['complete']} complete, {counts['pruned']} pruned, "
        f"{counts['fail']} failed trials.",
        f"Held-out macro-F1 ({over}):",
        *(f"  {label:<{width}}  {value}" for label, value in rows.items()),
        f"Decision: {decision.words()}.",
        f"Re-trained on train + validation, tested once: test macro-F1 {result.test_scores['macro_f1']:.4f}.",
        f"Tuned config: {result.directory / 'tuned.yaml'}",
    ]


def _track(study_name: str, directory: Path, args: argparse.Namespace) -> None:
    """The finished study in MLflow: a run with a child run per trial and the final model."""
    import optuna

    from multimodal_genre.tracking import track_study, tracking_uri
    from multimodal_genre.tuning import default_storage

    study = optuna.load_study(study_name=study_name, storage=args.storage or default_storage(args.out))
    run_id = track_study(study, directory)
    log.say(f"MLflow run {run_id} at {tracking_uri()}, with a child run per trial and the final model")
