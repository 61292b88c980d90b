"""``predict`` (a trained model's genre probabilities for audio files or dataset tracks) and
``extract`` (audio files into a dataset folder)."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from multimodal_genre import log, progress
from multimodal_genre.cli.common import DEFAULT_DATA_DIR, PROG, data_source
from multimodal_genre.data.layout import FEATURES_CSV, GENRES
from multimodal_genre.errors import ConfigError, RunError, some_of
from multimodal_genre.files import write_csv, writing_into

if TYPE_CHECKING:
    import pandas as pd

    from multimodal_genre.runs import ModelRun


def add_commands(commands: argparse._SubParsersAction) -> None:
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
    predict.add_argument("--out", type=Path, help="CSV file to write (default: a table on standard output)")
    predict.add_argument(
        "--format",
        choices=["table", "csv"],
        default="table",
        help="standard output's form without --out: a table within 80 columns (default) or CSV",
    )
    predict.set_defaults(handler=predict_genres)

    extract = commands.add_parser(
        "extract", help="GTZAN-style feature rows and spectrogram PNGs from audio files, as a dataset folder"
    )
    extract.add_argument("audio", nargs="+", type=Path, metavar="AUDIO", help="audio files (WAV, FLAC, OGG, MP3...)")
    extract.add_argument("--out", type=Path, required=True, help="dataset folder to write or add to")
    extract.add_argument(
        "--label", default="", choices=["", *GENRES], metavar="GENRE", help="the genre of these files (default: none)"
    )
    extract.set_defaults(handler=extract_audio)


def predict_genres(args: argparse.Namespace) -> int:
    """Everything that can be checked without TensorFlow is checked first: the run folder, then
    each audio file's place."""
    if args.audio and (args.data or args.tracks):
        raise ConfigError("predict scores either AUDIO files or a dataset's tracks (--data, --tracks), not both")
    if not args.run.is_dir():
        raise RunError(f"{args.run}: no such run folder")
    from multimodal_genre.audio import file_problem

    problems = {path: file_problem(path) for path in args.audio}
    for problem in filter(None, problems.values()):
        log.complain(f"{PROG}: error: {problem}")
    audio = [path for path, problem in problems.items() if problem is None]
    if args.audio and not audio:
        return 2
    from multimodal_genre.runs import load_model_run

    log.status(f"Loading the model in {_short(str(args.run), log.COLUMNS - 24)}...")
    run = load_model_run(args.run)
    if run.record.dataset.synthetic:
        warnings.warn(
            f"{args.run}: trained on synthetic data, not music; its genres say nothing about real audio",
            stacklevel=1,
        )
    if args.audio:
        return _predict_audio(run, audio, args) or (2 if len(audio) < len(args.audio) else 0)
    from multimodal_genre.prediction import predict_tracks

    source = data_source(args.data)
    source.announce(sys.stderr)
    table = predict_tracks(run, source.load(run.config), args.tracks)
    _show(table, "track", args)
    return 0


def _predict_audio(run: ModelRun, paths: Sequence[Path], args: argparse.Namespace) -> int:
    """The top genres of each file as it is scored (the running output is the progress), then the
    table; a file that fails is named at once and skipped (status 2)."""
    from multimodal_genre.audio import for_each_file
    from multimodal_genre.prediction import AudioPrediction, audio_table, predict_audio

    def score(path: Path) -> AudioPrediction:
        found = predict_audio(run, path)
        top = ", ".join(f"{genre} {probability:.2f}" for genre, probability in found.top())
        spread = f" (mean of {found.windows} windows of 30 s)" if found.windows > 1 else ""
        said = f": {top}{spread}"
        print(_short(str(path), log.COLUMNS - len(said)) + said, flush=True)  # one line per file, as data
        return found

    files = f"{len(paths)} audio file{'s' if len(paths) > 1 else ''}"
    log.status(f"Scoring {files}: features, spectrogram and genres of each...")
    found, errors = for_each_file(paths, score, on_error=lambda error: log.complain(f"{PROG}: error: {error}"))
    if found:
        _show(audio_table(found, run.seen), "file", args)
    return 2 if errors else 0


def _show(table: pd.DataFrame, name: str, args: argparse.Namespace) -> None:
    """The predictions as CSV (into ``--out``, or on standard output with ``--format csv``), or as a
    table within 80 columns; then their accuracy where the true genres are known."""
    from multimodal_genre.prediction import agreement

    if args.out is not None:
        write_csv(args.out, table, index=False)
        log.say(f"Wrote {len(table)} predictions to {args.out}")
    elif args.format == "csv":
        table.to_csv(sys.stdout, index=False, float_format="%.4f")
        return
    else:
        print(readable(table, name), flush=True)
    found = agreement(table, name)
    if found.seen:
        named = some_of([Path(track).name for track in found.seen], 3)
        warnings.warn(
            f"{len(found.seen)} of these tracks the model trained on or watched ({named}): "
            "left out of the accuracy, which counts only tracks it never saw",
            stacklevel=1,
        )
    if found.accuracy is not None:
        log.say(f"Accuracy on the {found.tracks} tracks of known genre this model never saw: {found.accuracy:.3f}")


def readable(table: pd.DataFrame, name: str) -> str:
    """A predictions table as text within 80 columns: each row's name, true genre where known, the
    predicted genre and its probability, the runner-up, and whether the model saw the track."""
    import numpy as np
    import pandas as pd

    probabilities = table.filter(like="p_").rename(columns=lambda column: column.removeprefix("p_"))
    ranked = np.argsort(-probabilities.to_numpy(), axis=1)
    genres = probabilities.columns.to_numpy()
    rows = range(len(table))
    shown = pd.DataFrame(
        {
            name: [str(value) for value in table[name]],
            "genre": table["true_genre"].fillna("") if "true_genre" in table else "",
            "predicted": genres[ranked[:, 0]],
            "p": [f"{probabilities.iat[row, ranked[row, 0]]:.2f}" for row in rows],
            "runner-up": [f"{genres[ranked[row, 1]]} {probabilities.iat[row, ranked[row, 1]]:.2f}" for row in rows],
        }
    )
    if "seen" in table:
        shown["seen"] = np.where(table["seen"], "yes", "no")
    others = sum(max(len(column), *(len(str(value)) for value in shown[column])) + 2 for column in shown.columns[1:])
    shown[name] = [_short(value, log.COLUMNS - others) for value in shown[name]]
    widths = [max(len(column), *(len(str(value)) for value in shown[column])) for column in shown]
    lines = [shown.columns, *shown.itertuples(index=False)]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _short(path: str, width: int) -> str:
    """``path`` within ``width`` characters where it must be cut: its folders go first, from the
    left, and its file name is never cut."""
    if len(path) <= width:
        return path
    name = Path(path).name
    return "..." + path[-max(width - 3, len(name)) :]


def extract_audio(args: argparse.Namespace) -> int:
    from multimodal_genre.audio import extract

    with writing_into(args.out), progress.job(len(args.audio), "file"):
        result = extract(args.audio, args.out, label=args.label)
    for note in result.notes:
        log.say(note)
    for error in result.errors:
        log.complain(f"{PROG}: error: {error}")
    log.say(
        f"Added {len(result.images)} of {len(args.audio)} files to {args.out} "
        f"({FEATURES_CSV} and images_original/{args.label or ''})"
    )
    return 2 if result.errors else 0
