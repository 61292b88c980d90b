"""The ``multimodal-genre`` command line.

Errors caused by the user's input (MultimodalGenreError) print as one line and exit with status 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multimodal_genre import __version__
from multimodal_genre.config import MODEL_NAMES, Config, ImageConfig, load_config
from multimodal_genre.data import GENRES, GenreDataset, load_dataset, write_synthetic_dataset
from multimodal_genre.data.layout import FEATURES_CSV
from multimodal_genre.errors import ConfigError, DatasetNotFoundError, MultimodalGenreError, RunError

if TYPE_CHECKING:
    from multimodal_genre.prediction import AudioPrediction
    from multimodal_genre.recipes import Recipe
    from multimodal_genre.runs import ModelRun

PROG = "multimodal-genre"
DEFAULT_DATA_DIR = Path("data/gtzan")
RUNS_DIR = Path("reports/runs")
TUNING_DIR = Path("reports/tuning")
REPORT_DIR = Path("reports/html")
DEMO_DATA_DIR = Path("data/synthetic")
HOW_TO_GET_GTZAN = (
    'Get GTZAN from Kaggle ("GTZAN Dataset - Music Genre Classification"): its Data/ folder holds '
    "features_30_sec.csv and images_original/; pass that folder with --data or GTZAN_DIR, or put it at data/gtzan."
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.handler(args)
        except MultimodalGenreError as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Classify music genres by fusing audio features with mel-spectrogram images."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="inspect a dataset or write a synthetic one")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    summary = data_commands.add_parser(
        "summary", help="tracks per genre, dropped rows, duplicate groups, image size and load time"
    )
    _add_data_options(summary)
    summary.set_defaults(handler=_data_summary)

    synth = data_commands.add_parser("synth", help="write a synthetic dataset in the Kaggle GTZAN layout")
    synth.add_argument("--out", type=Path, default=DEMO_DATA_DIR, help=f"folder to write (default: {DEMO_DATA_DIR})")
    synth.add_argument("--tracks-per-genre", type=int, default=30, help="tracks per genre (default: 30)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    synth.set_defaults(handler=_data_synth)

    train = commands.add_parser("train", help="train one model on the grouped hold-out split and write its run folder")
    train.add_argument("--model", choices=MODEL_NAMES, help="which model to train (default: the recipe's)")
    _add_data_options(train, recipes=True)
    _add_out_option(train)
    train.set_defaults(handler=_train)

    compare = commands.add_parser(
        "compare", help="train all models on the same split (or K folds) and compare them genre by genre"
    )
    compare.add_argument("--folds", type=int, help="grouped stratified K-fold instead of one hold-out split")
    compare.add_argument(
        "--models", nargs="+", choices=MODEL_NAMES, help="models to compare (default: all, or the recipe's)"
    )
    _add_data_options(compare, recipes=True)
    _add_out_option(compare)
    compare.add_argument(
        "--resume",
        action="store_true",
        help="go on with the unfinished comparison in --out: keep its finished model runs, train the rest",
    )
    compare.set_defaults(handler=_compare)

    tune = commands.add_parser(
        "tune", help="tune a model with Optuna, then re-train the best settings and test them once"
    )
    tune.add_argument("--model", choices=[*MODEL_NAMES, "all"], help="which model to tune (default: the recipe's)")
    tune.add_argument("--trials", type=int, help="trials to run in this process (at least one of --trials, --timeout)")
    tune.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    tune.add_argument(
        "--storage", help="study storage URL, e.g. postgresql://user@host/db (default: an SQLite file under --out)"
    )
    tune.add_argument(
        "--study-name", help="study to create or resume (default: the model's name; with --model all, NAME-<model>)"
    )
    tune.add_argument("--folds", type=int, help="objective: mean over K grouped inner folds of train + validation")
    tune.add_argument(
        "--search", type=Path, help="YAML file with the changes to configs/search.yaml (default: the recipe's, if any)"
    )
    _add_data_options(tune, recipes=True)
    tune.add_argument("--out", type=Path, default=TUNING_DIR, help=f"folder for study reports (default: {TUNING_DIR})")
    tune.set_defaults(handler=_tune)

    predict = commands.add_parser(
        "predict", help="genre probabilities from a trained model's run folder, for audio files or dataset tracks"
    )
    predict.add_argument("run", type=Path, metavar="RUN_DIR", help="a model's run folder (written by train or compare)")
    predict.add_argument(
        "audio",
        nargs="*",
        type=Path,
        metavar="AUDIO",
        help="audio files to score (WAV, FLAC, OGG, MP3...); without them, the tracks of a dataset",
    )
    predict.add_argument("--data", type=Path, help=f"dataset folder (default: $GTZAN_DIR, else {DEFAULT_DATA_DIR})")
    predict.add_argument(
        "--tracks", nargs="+", metavar="TRACK", help="tracks to score, e.g. blues.00000 (default: all)"
    )
    predict.add_argument("--out", type=Path, help="CSV file to write (default: standard output)")
    predict.set_defaults(handler=_predict)

    extract = commands.add_parser(
        "extract", help="GTZAN-style feature rows and spectrogram PNGs from audio files, as a dataset folder"
    )
    extract.add_argument("audio", nargs="+", type=Path, metavar="AUDIO", help="audio files (WAV, FLAC, OGG, MP3...)")
    extract.add_argument("--out", type=Path, required=True, help="dataset folder to write or add to")
    extract.add_argument(
        "--label", default="", choices=["", *GENRES], metavar="GENRE", help="the genre of these files (default: none)"
    )
    extract.set_defaults(handler=_extract)

    report = commands.add_parser(
        "report", help="one self-contained HTML page and a Markdown twin from run folders and tuning studies"
    )
    report.add_argument(
        "runs", type=Path, nargs="+", metavar="RUN_DIR", help="run folders: model runs, comparisons, tuning studies"
    )
    report.add_argument(
        "--out",
        type=Path,
        help=f"folder for report.html, report.md and figures/ (default: a new folder under {REPORT_DIR})",
    )
    report.add_argument(
        "--screenshot",
        action="store_true",
        help="open the report in headless Chromium, check what it renders and save screenshot.png beside it",
    )
    report.set_defaults(handler=_report)

    recipes = commands.add_parser("recipes", help="list the published systems ready to run with --recipe NAME")
    recipes.set_defaults(handler=_recipes)
    return parser


def _add_data_options(parser: argparse.ArgumentParser, recipes: bool = False) -> None:
    parser.add_argument(
        "--data", type=Path, help=f"dataset folder in the Kaggle layout (default: $GTZAN_DIR, else {DEFAULT_DATA_DIR})"
    )
    settings = parser.add_mutually_exclusive_group() if recipes else parser
    settings.add_argument("--config", type=Path, help="YAML file with the settings to change from configs/default.yaml")
    if recipes:
        settings.add_argument("--recipe", help="a published system's settings instead (see: multimodal-genre recipes)")


def _add_out_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, help=f"folder for the results, new or empty (default: a new folder under {RUNS_DIR})"
    )


def resolve_data_dir(explicit: Path | None) -> tuple[Path, str | None]:
    """The dataset folder to use: ``--data``, else $GTZAN_DIR, else data/gtzan.

    When none is named and data/gtzan does not exist, fall back to the synthetic demo dataset
    (written on first use) and return a notice saying so; otherwise the notice is None. A folder
    named explicitly but missing is an error, never silently replaced by synthetic data.
    """
    if explicit is not None:
        return _existing(explicit, "--data"), None
    if os.environ.get("GTZAN_DIR"):
        return _existing(Path(os.environ["GTZAN_DIR"]), "GTZAN_DIR"), None
    if DEFAULT_DATA_DIR.is_dir():
        return DEFAULT_DATA_DIR, None
    if not (DEMO_DATA_DIR / FEATURES_CSV).is_file():
        write_synthetic_dataset(DEMO_DATA_DIR)
    notice = (
        f"No GTZAN dataset found: --data not given, GTZAN_DIR not set, {DEFAULT_DATA_DIR} does not exist.\n"
        f"{HOW_TO_GET_GTZAN}\n"
        f"Using the SYNTHETIC demo dataset in {DEMO_DATA_DIR} instead: its figures say nothing about real music."
    )
    return DEMO_DATA_DIR, notice


def _existing(path: Path, source: str) -> Path:
    if not path.is_dir():
        raise DatasetNotFoundError(f"{path} (from {source}): no such dataset folder. {HOW_TO_GET_GTZAN}")
    return path


def _show_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    """One line per warning, without the source line Python shows by default."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _data_summary(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    root, notice = resolve_data_dir(args.data)
    if notice:
        print(notice, end="\n\n")
    started = time.perf_counter()
    dataset = load_dataset(root, config.data)
    seconds = time.perf_counter() - started
    print(_summary_text(dataset, config.data.image, seconds))
    return 0


def _summary_text(dataset: GenreDataset, image_config: ImageConfig, seconds: float) -> str:
    width, height = dataset.source_image_size
    out_height, out_width, channels = dataset.images.shape[1:]
    crop = image_config.crop
    crop_text = f"crop rows {crop.rows[0]}-{crop.rows[1]}, cols {crop.cols[0]}-{crop.cols[1]}" if crop else "no crop"
    duplicates = dataset.duplicate_sets()
    distinct = len(np.unique(dataset.groups))
    lines = []
    if dataset.synthetic:
        lines.append("SYNTHETIC DATA (made by the generator, not music)")
    lines += [
        f"Dataset      {dataset.root}",
        f"Tracks       {len(dataset)} of {len(dataset) + len(dataset.dropped)} CSV rows, "
        f"{len(np.unique(dataset.labels))} genres, {dataset.features.shape[1]} features",
        f"Dropped      {len(dataset.dropped)} (CSV rows without an image)"
        + (f": {', '.join(dataset.dropped)}" if dataset.dropped else ""),
        f"Duplicates   {len(duplicates)} groups of identical tracks "
        f"({distinct} distinct groups over {len(dataset)} tracks)",
        *(f"             {' = '.join(group)}" for group in duplicates),
        f"Images       {width}x{height} PNG -> {out_height}x{out_width}x{channels} float32 in [0, 1] ({crop_text})",
        f"Load time    {seconds:.2f} s (image cache: {dataset.image_cache})",
        f"Fingerprint  {dataset.fingerprint}",
        "",
        "Tracks per genre",
    ]
    counts = np.bincount(dataset.labels, minlength=len(GENRES))
    lines += [f"  {genre:<10} {count:>5}" for genre, count in zip(GENRES, counts, strict=True)]
    return "\n".join(lines)


def _load(args: argparse.Namespace, recipe: Recipe | None) -> tuple[Config, GenreDataset]:
    """Config and dataset for a training command."""
    config = _config(args, recipe)
    return config, _load_dataset(args, config)


def _config(args: argparse.Namespace, recipe: Recipe | None) -> Config:
    """The recipe's config with ``--recipe``, else the defaults changed by ``--config``."""
    return recipe.config if recipe else load_config(args.config)


def _recipe(args: argparse.Namespace) -> Recipe | None:
    """The ``--recipe`` named, read once per command."""
    from multimodal_genre.recipes import load_recipe

    return load_recipe(args.recipe) if getattr(args, "recipe", None) else None


def _model(args: argparse.Namespace, recipe: Recipe | None) -> str:
    """``--model``, else the recipe's model."""
    if args.model:
        return args.model
    if recipe is None:
        raise ConfigError(f"{args.command} needs --model (or --recipe NAME)")
    return recipe.info.model


def _load_dataset(args: argparse.Namespace, config: Config) -> GenreDataset:
    """The dataset ``--data`` names (or the fall-back), announcing a fall-back to synthetic data."""
    root, notice = resolve_data_dir(args.data)
    if notice:
        print(notice, end="\n\n")
    return load_dataset(root, config.data)


def _output_dir(out: Path | None, name: str) -> Path:
    """``--out`` if it is new or empty (earlier results are never overwritten), else a fresh run folder."""
    from multimodal_genre.runs import new_run_dir

    if out is None:
        return new_run_dir(RUNS_DIR, name)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"{out}: exists and is not an empty folder; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _command_line() -> str:
    return " ".join([PROG, *sys.argv[1:]])


def _train(args: argparse.Namespace) -> int:
    from multimodal_genre.data import holdout_split
    from multimodal_genre.experiments import run_model
    from multimodal_genre.training import default_progress

    recipe = _recipe(args)
    model = _model(args, recipe)
    config, dataset = _load(args, recipe)
    split = holdout_split(dataset.labels, dataset.groups, config.split)
    out = _output_dir(args.out, args.recipe or model)
    run_model(model, dataset, config, split, out, progress=default_progress(), command=_command_line(), recipe=recipe)
    print(f"Run folder: {out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from multimodal_genre.experiments import run_comparison
    from multimodal_genre.training import default_progress

    if args.folds is not None and args.folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {args.folds}")
    if args.resume and (args.out is None or not args.out.is_dir()):
        raise RunError(f"--resume: {args.out or 'no --out given'}: name the folder of the comparison to go on with")
    recipe = _recipe(args)
    models = args.models or ([recipe.info.model] if recipe else list(MODEL_NAMES))
    config, dataset = _load(args, recipe)
    name = args.recipe or "compare"
    out = args.out if args.resume else _output_dir(args.out, name if args.folds is None else f"{name}-{args.folds}fold")
    result = run_comparison(
        dataset,
        config,
        out,
        models=models,
        folds=args.folds,
        progress=default_progress(),
        command=_command_line(),
        recipe=recipe,
        resume=args.resume,
    )
    print(f"\n{(result.directory / 'comparison.md').read_text()}")
    print(f"Wall time {result.seconds:.0f} s. Results: {result.directory}")
    return 0


def _tune(args: argparse.Namespace) -> int:
    import optuna

    from multimodal_genre.search import load_search
    from multimodal_genre.training import default_progress
    from multimodal_genre.tuning import tune

    if args.trials is None and args.timeout is None:
        raise ConfigError("tune needs --trials N or --timeout SECONDS (or both)")
    if args.trials is not None and args.trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {args.trials}")
    if args.folds is not None and args.folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {args.folds}")
    if args.study_name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.study_name):
        raise ConfigError(
            f"--study-name must be letters, digits, '_', '.' or '-' (it names a folder), got {args.study_name!r}"
        )
    recipe = _recipe(args)
    model = _model(args, recipe)
    config = _config(args, recipe)
    search = load_search(config, args.search or (recipe.search_path if recipe else None))
    dataset = _load_dataset(args, config)
    models = MODEL_NAMES if model == "all" else (model,)
    # Optuna's progress bar (terminal) or one line per trial (log) replaces its own log records.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for model in models:
        name = args.study_name if len(models) == 1 else (f"{args.study_name}-{model}" if args.study_name else None)
        result = tune(
            model,
            dataset,
            config,
            search,
            trials=args.trials,
            timeout=args.timeout,
            storage_url=args.storage,
            study_name=name,
            folds=args.folds,
            out=args.out,
            progress=default_progress(),
            command=_command_line(),
        )
        counts = result.counts
        print(
            f"Study '{result.study_name}': best validation macro-F1 {result.best_value:.4f}; "
            f"{counts['complete']} complete, {counts['pruned']} pruned, {counts['fail']} failed; "
            f"{result.trials_per_hour:.1f} trials/hour. Re-trained on train + validation: test macro-F1 "
            f"{result.test_scores['macro_f1']:.4f}. Tuned config: {result.directory / 'tuned.yaml'}"
        )
    return 0


def _predict(args: argparse.Namespace) -> int:
    from multimodal_genre.prediction import predict_tracks
    from multimodal_genre.runs import load_model_run

    if args.audio and (args.data or args.tracks):
        raise ConfigError("predict scores either AUDIO files or a dataset's tracks (--data, --tracks), not both")
    run = load_model_run(args.run)
    if args.audio:
        return _predict_audio(run, args.audio, args.out)
    root, notice = resolve_data_dir(args.data)
    if notice:
        print(notice, end="\n\n", file=sys.stderr)
    table = predict_tracks(run, load_dataset(root, run.config.data), args.tracks)
    if args.out is None:
        table.to_csv(sys.stdout, index=False, float_format="%.4f")
    else:
        table.to_csv(args.out, index=False)
        print(f"Wrote {len(table)} predictions to {args.out}")
    return 0


def _predict_audio(run: ModelRun, paths: Sequence[Path], out: Path | None) -> int:
    """The top genres of each file as it is scored (the running output is the progress); a file that
    fails is named at once and skipped."""
    import pandas as pd

    from multimodal_genre.audio import for_each_file
    from multimodal_genre.prediction import predict_audio

    def score(path: Path) -> AudioPrediction:
        found = predict_audio(run, path)
        top = ", ".join(f"{genre} {probability:.2f}" for genre, probability in found.top())
        spread = f" (mean of {found.windows} windows of 30 s)" if found.windows > 1 else ""
        print(f"{path}: {top}{spread}", flush=True)
        return found

    def report(error: str) -> None:
        print(f"{PROG}: error: {error}", file=sys.stderr)

    found, errors = for_each_file(paths, score, progress=False, on_error=report)
    if out is not None and found:
        table = pd.DataFrame(
            [
                {"file": str(item.path), "seconds": round(item.seconds, 2), "windows": item.windows}
                | {"predicted_genre": item.top(1)[0][0]}
                | {f"p_{genre}": probability for genre, probability in item.probabilities.items()}
                for item in found
            ]
        )
        table.to_csv(out, index=False)
        print(f"Wrote {len(table)} predictions to {out}")
    return 2 if errors else 0


def _extract(args: argparse.Namespace) -> int:
    from multimodal_genre.audio import extract

    result = extract(args.audio, args.out, label=args.label)
    for note in result.notes:
        print(note)
    for error in result.errors:
        print(f"{PROG}: error: {error}", file=sys.stderr)
    print(
        f"Added {len(result.images)} of {len(args.audio)} files to {args.out} "
        f"({FEATURES_CSV} and images_original/{args.label or ''})"
    )
    return 2 if result.errors else 0


def _report(args: argparse.Namespace) -> int:
    from multimodal_genre.document import write_report
    from multimodal_genre.document.browser import check_in_browser
    from multimodal_genre.runs import new_run_dir

    out = args.out or new_run_dir(REPORT_DIR, "report")
    report = write_report(args.runs, out, command=_command_line())
    if report.synthetic:
        print("Note: the report shows runs on SYNTHETIC data, and says so at its top.", file=sys.stderr)
    print(f"Wrote {report.html} and {report.markdown} ({len(report.figures)} figures in {out / 'figures'})")
    if not args.screenshot:
        return 0
    check = check_in_browser(report.html, out / "screenshot.png")
    print(
        f"Chromium rendered {len(check.images) - len(check.broken_images)} of {len(check.images)} images and "
        f"{len(check.tables)} tables; the page asked for {len(check.requests)} outside resources. "
        f"Screenshot: {check.screenshot}"
    )
    for problem in check.problems:
        print(f"{PROG}: browser check: {problem}", file=sys.stderr)
    return 1 if check.problems else 0


def _recipes(args: argparse.Namespace) -> int:
    from multimodal_genre.recipes import load_recipe, recipe_names

    for name in recipe_names():
        info = load_recipe(name).info
        published = ", ".join(f"{metric} {value:.3f}" for metric, value in info.published.items()) or "none comparable"
        print(f"{name:<24} {info.model:<7} {info.title}\n{'':<32} published ({info.published_on}): {published}")
    print("\nRun one: multimodal-genre train --recipe NAME, or compare --recipe NAME --folds 5 for grouped 5-fold.")
    return 0


def _data_synth(args: argparse.Namespace) -> int:
    root = write_synthetic_dataset(args.out, tracks_per_genre=args.tracks_per_genre, seed=args.seed)
    print(f"Wrote a synthetic dataset ({args.tracks_per_genre} tracks per genre, seed {args.seed}) to {root}")
    return 0
