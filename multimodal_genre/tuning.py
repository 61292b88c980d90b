"""Optuna studies: tune one model's settings on validation data, then re-train and test it once.

The objective is macro-F1 on the grouped validation split (or its mean over grouped inner folds
of train + validation); the test split never enters a study. Trials are pruned through
optuna-integration's callbacks and kept in a storage URL (SQLite under reports/ by default, or a
PostgreSQL server that several workers share). Workers send heartbeats, so the trial of a worker
that dies is failed and run again rather than left running for ever.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot
import numpy as np
import optuna
import pandas as pd
import sqlalchemy.exc
import yaml
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState
from optuna.visualization import matplotlib as optuna_plots

from multimodal_genre import log, progress
from multimodal_genre.config import Config, config_dict
from multimodal_genre.data import GenreDataset, Split, holdout_split, inner_splits, kfold_splits
from multimodal_genre.ensembles import combine_members
from multimodal_genre.errors import DivergedError, RunError, first_line
from multimodal_genre.evaluation import score
from multimodal_genre.experiments import run_model, train_model, write_trained_run
from multimodal_genre.families import family
from multimodal_genre.files import write_csv, write_text
from multimodal_genre.records import DatasetRecord, RecipeRecord, SessionRecord, StudyRecord, write_record
from multimodal_genre.report.render import Block, Heading, Paragraph, Table, write_markdown
from multimodal_genre.runs import new_run_dir
from multimodal_genre.search import SearchConfig, apply, configured_values, suggest
from multimodal_genre.settings import Problems, Settings
from multimodal_genre.workers import Workers

logger = logging.getLogger(__name__)
TUNING_DIR = Path("reports/tuning")
PARALLEL_COORDINATES = 6  # settings in the parallel-coordinate plot: more axes overlap
FOLLOW_SECONDS = 2.0  # how often the command reads the storage for trials its workers finished
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def default_storage(directory: Path = TUNING_DIR) -> str:
    """An SQLite file under ``directory``: nothing to install, resumable, one machine."""
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'studies.db'}"


@dataclasses.dataclass(frozen=True)
class StudyOptions(Settings):
    """How long a study runs in this process, what it is called, and what its objective averages over."""

    trials: int | None  # more trials to run here
    timeout: float | None  # seconds after which no new trial starts
    study_name: str | None  # default: the model's name
    folds: int | None  # objective: mean over this many grouped inner folds (None: the validation split)
    repeats: int = 1  # the inner folds drawn this many times, each with its own shuffle
    # Tune once per outer grouped fold (a study each) and test each fold's result beside the untuned
    # model on the same fold: whether tuning gains, measured as the comparison measures (None: one study).
    outer_folds: int | None = None

    def problems(self) -> Problems:
        if self.trials is None and self.timeout is None:
            yield "trials", "or timeout must be given: a study without either never ends"
        if self.trials is not None and self.trials < 1:
            yield "trials", f"must be at least 1, got {self.trials}"
        if self.timeout is not None and self.timeout <= 0:
            yield "timeout", f"must be positive, got {self.timeout}"
        if self.study_name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.study_name):
            yield "study_name", f"must be letters, digits, '_', '.' or '-' (it names a folder), got {self.study_name!r}"
        if self.folds is not None and self.folds < 2:
            yield "folds", f"must be at least 2, got {self.folds}"
        if self.repeats < 1 or (self.repeats > 1 and self.folds is None):
            yield "repeats", f"must be at least 1, and needs folds to repeat, got {self.repeats}"
        if self.outer_folds is not None and self.outer_folds < 2:
            yield "outer_folds", f"must be at least 2, got {self.outer_folds}"


@dataclasses.dataclass(frozen=True)
class TuningResult:
    study_name: str
    directory: Path  # trials table, plots, tuned config, summary and the final run folder
    best_trial: int
    best_value: float
    best_params: dict[str, Any]
    counts: dict[str, int]  # trials by state: complete, pruned, fail, running, waiting
    trials_per_hour: float
    test_scores: dict[str, float]
    final_run: Path


@dataclasses.dataclass
class Objective:
    """Validation macro-F1 of ``model`` trained with one trial's settings (mean over ``splits``)."""

    model: str
    config: Config
    search: SearchConfig
    dataset: GenreDataset
    splits: Sequence[Split]  # train and validation sides only are used

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest(trial, self.search.spaces[self.model])
        config = apply(self.config, self.model, params)
        pruning = family(self.model).pruning_callback(trial, config.models[self.model])
        scores, kept = [], []
        for index, split in enumerate(self.splits):
            # Pruning steps are epochs (or rounds) of the first split; later folds run unpruned.
            callbacks = [pruning] if pruning is not None and index == 0 else []
            try:
                trained = train_model(self.model, config, self.dataset, split, callbacks=callbacks)
            except DivergedError as error:  # these settings are hopeless: stopped like a pruned trial
                trial.set_user_attr("diverged", str(error))
                raise optuna.TrialPruned(str(error)) from None
            rows = split.validation
            predicted = trained.predict_proba(self.dataset.images[rows], self.dataset.features[rows])
            scores.append(score(self.dataset.labels[rows], predicted)["macro_f1"])
            kept.append(trained.best_epoch)
        trial.set_user_attr("fold_macro_f1", scores)
        trial.set_user_attr("std_macro_f1", float(np.std(scores)))
        trial.set_user_attr("kept", kept)
        return float(np.mean(scores))


def study_splits(
    dataset: GenreDataset, config: Config, folds: int | None, repeats: int = 1, outer: Split | None = None
) -> tuple[Split, list[Split]]:
    """The outer split (default: the hold-out split), and what trials train and validate on: its own
    train and validation sides, or ``folds`` grouped folds of train + validation, drawn ``repeats``
    times with different shuffles (a trial's mean then depends less on one partition). Test rows are
    in none of them."""
    outer = outer or holdout_split(dataset.labels, dataset.groups, config.split)
    if folds is None:
        return outer, [outer]
    return outer, [
        inner
        for repeat in range(repeats)
        for inner in inner_splits(dataset.labels, dataset.groups, outer, folds, config.split.seed + repeat)
    ]


def _train_and_validation(split: Split) -> np.ndarray:
    return np.sort(np.concatenate([split.train, split.validation]))


def open_study(
    name: str, storage: RDBStorage, search: SearchConfig, identity: dict[str, Any], seed: int
) -> optuna.Study:
    """Create the study, or resume it if ``identity`` (model, dataset, folds) matches what made it."""
    storage_url = storage.url
    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction="maximize",
            load_if_exists=True,
            pruner=search.pruner.build(family(identity["model"]).unit),
        )
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise RunError(f"{mask(storage_url)}: cannot open the study storage ({first_line(error)})") from None
    made_for = study.user_attrs.get("identity")
    if made_for is None:
        study.set_user_attr("identity", identity)
    elif made_for != identity:
        raise RunError(
            f"study '{name}' in {mask(storage_url)} was made for {_describe(made_for)}, not "
            f"{_describe(identity)}; resume it with the same settings or choose another --study-name"
        )
    # Each worker draws from its own seed (the configured one, the trials so far and its process id):
    # workers started together on one study must not sample the same settings.
    worker_seed = int(np.random.SeedSequence([seed, len(study.trials), os.getpid()]).generate_state(1)[0])
    study.sampler = optuna.samplers.TPESampler(seed=worker_seed, constant_liar=True)
    return study


@contextlib.contextmanager
def study_storage(url: str, search: SearchConfig) -> Iterator[RDBStorage]:
    """The storage at ``url`` while the block runs; its pooled connections are closed after."""
    storage = _storage(url, search)
    try:
        yield storage
    finally:
        storage.engine.dispose()


def _storage(url: str, search: SearchConfig, attempts: int = 5) -> RDBStorage:
    """The storage with heartbeats on, its tables created if the database is new."""
    attempt = 0
    while True:
        attempt += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    # A pooled connection is checked before use: after the server restarts, the next
                    # trial reconnects instead of failing on a connection the restart closed.
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=search.storage.heartbeat_seconds,
                    grace_period=search.storage.grace_seconds,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=search.storage.retries),
                )
        except ImportError as error:
            missing = getattr(error.__cause__, "name", None) or getattr(error, "name", None)
            raise RunError(
                f"{mask(url)}: the database driver '{missing}' is not installed "
                "(for PostgreSQL: pip install 'multimodal-genre[postgres]')"
            ) from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as error:
            # Workers started together on a new database race to create its tables; the
            # losers find them made on a second look.
            if attempt == attempts:
                raise RunError(f"{mask(url)}: cannot create the study tables ({first_line(error)})") from None
            time.sleep(0.5 * attempt)
        except (sqlalchemy.exc.SQLAlchemyError, ValueError) as error:
            raise RunError(f"{mask(url)}: cannot open the study storage ({first_line(error)})") from None


@contextlib.contextmanager
def storage_kept(url: str) -> Iterator[None]:
    """A study whose storage goes away (the database server stopped or restarted while a trial wrote
    to it) stops with one line: its finished trials are in the storage, and the same command goes on."""
    try:
        yield
    except Exception as error:
        lost = _storage_error(error)
        if lost is None:
            raise
        raise RunError(
            f"{mask(url)}: lost the study storage ({first_line(lost)}); the finished trials are kept there: "
            "run the same command again to go on"
        ) from None


def _storage_error(error: BaseException | None) -> BaseException | None:
    """The database error behind ``error`` (Optuna may raise another one while cleaning up after it)."""
    while error is not None:
        if isinstance(error, sqlalchemy.exc.OperationalError):
            return error
        error = error.__cause__ or error.__context__
    return None


def tune(
    model: str,
    dataset: GenreDataset,
    config: Config,
    search: SearchConfig,
    trials: int | None,
    timeout: float | None = None,
    storage_url: str | None = None,
    study_name: str | None = None,
    folds: int | None = None,
    out: Path = TUNING_DIR,
    command: str | None = None,
    recipe: RecipeRecord | None = None,
    workers: Workers | None = None,
    repeats: int = 1,
) -> TuningResult:
    """Run (or resume) a study of ``model``, write its reports, then re-train the best settings (or
    the ``search.final.top_k`` best, averaged) on train + validation and score them once on the test
    split. ``trials`` more trials run here, or shared among ``workers`` (entered), which all use the
    study's storage."""
    options = StudyOptions(trials, timeout, study_name, folds, repeats)
    name = options.study_name or model
    outer = holdout_split(dataset.labels, dataset.groups, config.split)
    study = Study(model, dataset, config, search, options, storage_url, command, recipe, workers)
    return study.run(name, outer, out / name)


@dataclasses.dataclass(frozen=True)
class Study:
    """One model's study settings, run on an outer split: by ``tune`` on the hold-out split, by
    ``tune_outer_folds`` on each outer fold."""

    model: str
    dataset: GenreDataset
    config: Config
    search: SearchConfig
    options: StudyOptions
    storage_url: str | None
    command: str | None
    recipe: RecipeRecord | None
    workers: Workers | None

    def run(self, name: str, outer: Split, directory: Path) -> TuningResult:
        """The study ``name`` on ``outer``'s training side, its reports and final run in ``directory``."""
        model, config, search, options = self.model, self.config, self.search, self.options
        if not search.spaces[model]:
            raise RunError(f"the search space of '{model}' is empty: nothing to tune")
        _, splits = study_splits(self.dataset, config, options.folds, options.repeats, outer)
        identity = {
            "model": model,
            "dataset": self.dataset.fingerprint,
            "folds": options.folds,
            "split_seed": config.split.seed,
            **({"repeats": options.repeats} if options.repeats > 1 else {}),
        }
        with study_storage(self.storage_url or default_storage(directory.parent), search) as storage:
            study = open_study(name, storage, search, identity, config.seed)
            study.enqueue_trial(configured_values(config, model, search.spaces[model]), skip_if_exists=True)
            objective = Objective(model, config, search, self.dataset, splits)
            with storage_kept(storage.url):
                if self.workers is None or self.workers.here:
                    session = optimise(study, objective, options.trials, options.timeout)
                else:
                    session = optimise_on(
                        self.workers, storage.url, search, study, objective, options, identity, config.seed
                    )
            best = _best_trial(study)
            directory.mkdir(parents=True, exist_ok=True)
            _write_tuned_config(directory, name, best, apply(config, model, best.params))
            write_study_reports(study, directory)
            final_run = new_run_dir(directory, "final")
            top = _top_trials(study, search.final.top_k)
            test_scores = retrain(model, self.dataset, config, top, outer, final_run, self.command, self.recipe)
            result = _result(study, best, directory, session, test_scores, final_run)
        _write_study_record(result, model, self.dataset, storage.url, options, session, self.command, self.recipe)
        return result


def tune_outer_folds(study: Study, name: str, out: Path) -> pd.DataFrame:
    """``study`` run on each of ``study.options.outer_folds`` grouped folds (the folds ``compare
    --folds`` uses), its final model tested on the fold's test side beside the untuned model trained
    on the same rows; writes ``outer_folds.{csv,md}`` under ``out/name`` and returns the table."""
    config, dataset = study.config, study.dataset
    folds = kfold_splits(
        dataset.labels, dataset.groups, dataclasses.replace(config.split, folds=study.options.outer_folds)
    )
    rows = []
    for index, split in enumerate(folds, start=1):
        directory = out / name / f"outer{index}"
        result = study.run(f"{name}-outer{index}", split, directory)
        fold = (index, len(folds))
        default = run_model(
            study.model, dataset, config, split, directory / "untuned", fold, study.command, study.recipe
        )
        rows.append(
            {
                "fold": index,
                "tuned_macro_f1": result.test_scores["macro_f1"],
                "untuned_macro_f1": default["macro_f1"],
                "best_validation_macro_f1": result.best_value,
                "trials": result.counts["complete"],
            }
        )
    table = pd.DataFrame(rows)
    _write_outer_summary(table, study, name, out / name)
    return table


def _write_outer_summary(table: pd.DataFrame, study: Study, name: str, directory: Path) -> None:
    write_csv(directory / "outer_folds.csv", table, index=False)
    tuned, untuned = table["tuned_macro_f1"], table["untuned_macro_f1"]
    gain = tuned.mean() - untuned.mean()
    wins = int((tuned > untuned).sum())
    verdict = "Tuning gained" if gain > 0 else "Tuning did not gain"
    top_k = study.search.final.top_k
    final = "the best trial's settings" if top_k == 1 else f"the {top_k} best trials' settings, averaged"
    blocks: list[Block] = [
        Heading(1, f"Study '{name}' of {study.model}, cross-validated by {len(table)} outer grouped folds"),
        Paragraph(
            f"Each outer fold ran its own study on its training side, re-trained {final} and tested them "
            f"once on its test side, beside the untuned model trained on the same rows."
        ),
        Paragraph(
            f"**{verdict}: {gain:+.3f} macro-F1** (tuned {tuned.mean():.3f} ± {tuned.std(ddof=1):.3f}, untuned "
            f"{untuned.mean():.3f} ± {untuned.std(ddof=1):.3f}; tuned better on {wins} of {len(table)} folds)."
        ),
        *([Paragraph(f"Command: `{study.command}`")] if study.command else []),
        Table(table.round(4).astype({"fold": int, "trials": int}).set_index("fold")),
    ]
    write_markdown(directory / "outer_folds.md", blocks)


def _result(
    study: optuna.Study,
    best: optuna.trial.FrozenTrial,
    directory: Path,
    session: tuple[int, float],
    test_scores: dict[str, float],
    final_run: Path,
) -> TuningResult:
    ran, seconds = session
    states = [trial.state for trial in study.trials]  # one read of the storage
    return TuningResult(
        study_name=study.study_name,
        directory=directory,
        best_trial=best.number,
        best_value=float(best.value),
        best_params=dict(best.params),
        counts={state.name.lower(): states.count(state) for state in TrialState},
        trials_per_hour=ran / seconds * 3600 if seconds > 0 else 0.0,
        test_scores=test_scores,
        final_run=final_run,
    )


def optimise(study: optuna.Study, objective: Objective, trials: int | None, timeout: float | None) -> tuple[int, float]:
    """Run ``trials`` more trials (or until ``timeout``); return how many ran and in how many seconds.
    Progress: the job's bar (``progress``), else Optuna's, on a watched terminal; else a logged line
    per trial, with the job's estimate where one is open."""
    ran: list[int] = []  # trials of this call (other workers may add theirs to the study meanwhile)
    started = time.perf_counter()
    watched = log.watched()
    study.optimize(
        objective,
        n_trials=trials,
        timeout=timeout,
        callbacks=[
            lambda _, trial: ran.append(trial.number),
            lambda _, trial: progress.done("trial"),
            *([] if watched else [TrialLine()]),
        ],
        show_progress_bar=watched and not progress.shown("trial"),
        gc_after_trial=True,
    )
    return len(ran), time.perf_counter() - started


def optimise_on(
    workers: Workers,
    storage_url: str,
    search: SearchConfig,
    study: optuna.Study,
    objective: Objective,
    options: StudyOptions,
    identity: dict[str, Any],
    seed: int,
) -> tuple[int, float]:
    """``optimise`` in every slot of ``workers`` at once, the trials shared out among them; each
    worker opens the study from its storage, as workers started by hand on other machines would."""
    started = time.perf_counter()
    before = {trial.number for trial in study.get_trials(deepcopy=False, states=_FINISHED)}
    count = workers.slots if options.trials is None else min(workers.slots, options.trials)
    shares = [None if options.trials is None else len(range(index, options.trials, count)) for index in range(count)]
    shared = workers.share(objective)
    futures: list[concurrent.futures.Future] = []
    for trials in shares:
        futures.append(
            workers.submit(
                _optimise_share, storage_url, search, study.study_name, identity, seed, shared, trials, options.timeout
            )
        )
        _wait_for_waiting_trials(study, futures[0])
    if progress.counting("trial"):
        _follow(study, futures, before)
    return sum(future.result() for future in futures), time.perf_counter() - started


def _follow(study: optuna.Study, futures: Sequence[concurrent.futures.Future], before: set[int]) -> None:
    """Until the workers' shares end, count each trial of the study that finishes meanwhile (not
    in ``before``) in the job's progress: the trials run in other processes, and the storage tells
    when they end."""
    counted = set(before)
    pending: Any = futures
    while pending:
        _, pending = concurrent.futures.wait(pending, timeout=FOLLOW_SECONDS)
        for trial in study.get_trials(deepcopy=False, states=_FINISHED):
            if trial.number not in counted:
                counted.add(trial.number)
                progress.done("trial", f"{study.study_name} trial {trial.number}")


def _wait_for_waiting_trials(study: optuna.Study, first: concurrent.futures.Future) -> None:
    """Until the first worker has taken the enqueued trials (or ended): on SQLite, two workers
    starting together could both take the same waiting trial."""
    while not first.done() and study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        time.sleep(0.2)


def _optimise_share(
    storage_url: str,
    search: SearchConfig,
    name: str,
    identity: dict[str, Any],
    seed: int,
    objective: Objective,
    trials: int | None,
    timeout: float | None,
) -> int:
    """One worker's part of a study: its trials, on the shared storage; returns how many it ran."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with study_storage(storage_url, search) as storage:
        study = open_study(name, storage, search, identity, seed)
        return optimise(study, objective, trials, timeout)[0]


def retrain(
    model: str,
    dataset: GenreDataset,
    config: Config,
    top: Sequence[optuna.trial.FrozenTrial],
    outer: Split,
    out: Path,
    command: str | None = None,
    recipe: RecipeRecord | None = None,
) -> dict[str, float]:
    """The settings of each trial of ``top`` trained on train + validation, with no validation side to
    stop on, for as long as that trial kept (the median over its folds); one trial's model alone, or
    the models of several averaged in one; scored once on the test split."""
    refit = Split(train=_train_and_validation(outer), validation=outer.validation[:0], test=outer.test)
    fixed = [_fixed_length(config, model, trial) for trial in top]
    if len(fixed) == 1:
        return run_model(model, dataset, fixed[0], refit, out, None, command, recipe)
    members = [train_model(model, tuned, dataset, refit) for tuned in fixed]
    trained = combine_members(family(model), members)
    probabilities = trained.predict_proba(dataset.images[refit.test], dataset.features[refit.test])
    return write_trained_run(trained, probabilities, dataset, fixed[0], refit, out, None, command, recipe)


def _fixed_length(config: Config, model: str, trial: optuna.trial.FrozenTrial) -> Config:
    length = int(np.median(trial.user_attrs.get("kept", [])) or 1)
    return apply(apply(config, model, trial.params), model, {family(model).length_setting: length})


def _top_trials(study: optuna.Study, k: int) -> list[optuna.trial.FrozenTrial]:
    """The ``k`` finished trials of highest objective, best first (fewer where fewer finished)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(complete, key=lambda trial: trial.value, reverse=True)[:k]


def _best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    if not any(trial.state == TrialState.COMPLETE for trial in study.trials):
        raise RunError(
            f"study '{study.study_name}': no trial has finished yet, so there is no best setting to re-train"
        )
    return study.best_trial


def _write_tuned_config(directory: Path, name: str, best: optuna.trial.FrozenTrial, tuned: Config) -> None:
    write_text(
        directory / "tuned.yaml",
        f"# Tuned by study '{name}' (trial {best.number}, validation macro-F1 {best.value:.4f}).\n"
        f"# Use it with: multimodal-genre compare --config {directory / 'tuned.yaml'}\n"
        + yaml.safe_dump(config_dict(tuned), sort_keys=False),
    )


def _write_study_record(
    result: TuningResult,
    model: str,
    dataset: GenreDataset,
    storage_url: str,
    options: StudyOptions,
    session: tuple[int, float],
    command: str | None,
    recipe: RecipeRecord | None,
) -> None:
    ran, seconds = session
    folds = options.folds
    repeated = f", drawn {options.repeats} times" if options.repeats > 1 else ""
    record = StudyRecord.new(
        command=command,
        recipe=recipe,
        dataset=DatasetRecord.of(dataset),
        study=result.study_name,
        model=model,
        storage=mask(storage_url),
        objective="validation macro-F1" + (f", mean over {folds} grouped inner folds{repeated}" if folds else ""),
        best_trial=result.best_trial,
        best_validation_macro_f1=result.best_value,
        best_params=result.best_params,
        trials=result.counts,
        this_run=SessionRecord(trials=ran, seconds=round(seconds, 1), trials_per_hour=round(result.trials_per_hour, 1)),
        final_run=result.final_run.name,
        test={key: value for key, value in result.test_scores.items() if not key.startswith("f1_")},
    )
    write_record(result.directory, record)


def write_study_reports(study: optuna.Study, directory: Path) -> None:
    """The trials table and Optuna's plots: optimisation history, parameter importances, parallel coordinates."""
    study.trials_dataframe().to_csv(directory / "trials.csv", index=False)
    complete = [trial for trial in study.trials if trial.state == TrialState.COMPLETE]
    figures: dict[str, Callable[[], Any]] = {
        "optimization_history": lambda: optuna_plots.plot_optimization_history(study)
    }
    if len(complete) >= 2:
        figures["parallel_coordinate"] = lambda: optuna_plots.plot_parallel_coordinate(
            study, params=_most_important(study)
        )
        figures["param_importances"] = lambda: optuna_plots.plot_param_importances(study)
    # rc_context: Optuna's plots switch Matplotlib's global style, which must not leak into ours.
    with warnings.catch_warnings(), matplotlib.rc_context():
        # Optuna's plots warn about short studies (flat axes, equal importances); the plots stand.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for name, plot in figures.items():
            try:
                axes = plot()
            except (ValueError, RuntimeError):
                # Importances need settings that varied across finished trials; a short study may have none.
                continue
            figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            figure.set_size_inches(12, 6)
            figure.savefig(directory / f"{name}.png", dpi=100, bbox_inches="tight")
            matplotlib.pyplot.close(figure)


def _most_important(study: optuna.Study) -> list[str] | None:
    """The settings that mattered most, as many as a parallel-coordinate plot shows legibly (all
    of them when importances cannot be computed yet)."""
    try:
        return list(optuna.importance.get_param_importances(study))[:PARALLEL_COORDINATES]
    except (ValueError, RuntimeError):
        return None


class TrialLine:
    """One logged line per finished trial, for logs and pipes where Optuna's progress bar would be noise."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        seconds = trial.duration.total_seconds() if trial.duration else 0.0
        if trial.state == TrialState.COMPLETE:
            outcome = (
                f"validation macro-F1 {trial.value:.4f} (best {study.best_value:.4f}, trial {study.best_trial.number})"
            )
        elif trial.state == TrialState.PRUNED:
            outcome = f"pruned at step {trial.last_step}"
        else:
            outcome = trial.state.name.lower()
        params = ", ".join(f"{key}={_short(value)}" for key, value in trial.params.items())
        job = progress.summary("trial")
        logger.info(
            f"{study.study_name} trial {trial.number}: {outcome}, {seconds:.0f} s; {params}"
            + (f"; {job}" if job else "")
        )


def mask(url: str) -> str:
    """A storage URL with its password hidden, for messages and reports."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _describe(identity: dict[str, Any]) -> str:
    folds = f"{identity.get('folds')} inner folds" if identity.get("folds") else "the validation split"
    return f"model {identity.get('model')} on dataset {identity.get('dataset')} ({folds})"
