"""``predict`` (a trained model's genre probabilities for audio files or dataset tracks) and
``extract`` (audio files into a dataset folder)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from multimodal_genre import log, progress
from multimodal_genre.backend import load_keras
from multimodal_genre.cli.common import DEFAULT_DATA_DIR, PROG, data_source
from multimodal_genre.data.layout import FEATURES_CSV, GENRES
from multimodal_genre.errors import ConfigError, RunError
from multimodal_genre.files import write_csv, writing_into

if TYPE_CHECKING:
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
    predict.add_argument("--out", type=Path, help="CSV file to write (default: standard output)")
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
    if args.audio and (args.data or args.tracks):
        raise ConfigError("predict scores either AUDIO files or a dataset's tracks (--data, --tracks), not both")
    if not args.run.is_dir():  # said before TensorFlow loads
        raise RunError(f"{args.run}: no such run folder")
    from multimodal_genre.prediction import predict_tracks
    from multimodal_genre.runs import load_model_run

    load_keras()  # before a saved network loads, so that it loads quietly
    run = load_model_run(args.run)
    if args.audio:
        return _predict_audio(run, args.audio, args.out)
    source = data_source(args.data)
    source.announce(sys.stderr)
    table = predict_tracks(run, source.load(run.config), args.tracks)
    if args.out is None:
        table.to_csv(sys.stdout, index=False, float_format="%.4f")
    else:
        write_csv(args.out, table, index=False)
        log.say(f"Wrote {len(table)} predictions to {args.out}")
    return 0


def _predict_audio(run: ModelRun, paths: Sequence[Path], out: Path | None) -> int:
    """The top genres of each file as it is scored (the running output is the progress); a file that
    fails is named at once and skipped."""
    import pandas as pd

    from multimodal_genre.audio import for_each_file
    from multimodal_genre.prediction import AudioPrediction, predict_audio

    def score(path: Path) -> AudioPrediction:
        found = predict_audio(run, path)
        top = ", ".join(f"{genre} {probability:.2f}" for genre, probability in found.top())
        spread = f" (mean of {found.windows} windows of 30 s)" if found.windows > 1 else ""
        print(f"{path}: {top}{spread}", flush=True)  # one line per file, as data: never folded
        return found

    def report(error: str) -> None:
        print(f"{PROG}: error: {error}", file=sys.stderr)

    found, errors = for_each_file(paths, score, on_error=report)
    if out is not None and found:
        table = pd.DataFrame(
            [
                {"file": str(item.path), "seconds": round(item.seconds, 2), "windows": item.windows}
                | {"predicted_genre": item.top(1)[0][0]}
                | {f"p_{genre}": probability for genre, probability in item.probabilities.items()}
                for item in found
            ]
        )
        write_csv(out, table, index=False)
        log.say(f"Wrote {len(table)} predictions to {out}")
    return 2 if errors else 0


def extract_audio(args: argparse.Namespace) -> int:
    from multimodal_genre.audio import extract

    with writing_into(args.out), progress.job(len(args.audio), "file"):
        result = extract(args.audio, args.out, label=args.label)
    for note in result.notes:
        log.say(note)
    for error in result.errors:
        print(f"{PROG}: error: {error}", file=sys.stderr)
    log.say(
        f"Added {len(result.images)} of {len(args.audio)} files to {args.out} "
        f"({FEATURES_CSV} and images_original/{args.label or ''})"
    )
    return 2 if result.errors else 0
