"""Audio extraction benchmark: the ten GTZAN clips in <data>/genres_original, made into feature rows
and spectrograms by this package, against the Kaggle CSV rows and PNGs made from the same audio.

Per feature column: median and maximum relative error over the clips; per clip: mean absolute pixel
difference inside the plot box, and the genre a trained model predicts from our pair and from the
Kaggle pair. Writes reports/benchmarks/audio_extraction.{json,md}:

    python benchmarks/audio_extraction.py --data ../shared/gtzan --run reports/runs/<stamp>-benchmark-holdout/fused
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import provenance

from multimodal_genre.audio import extract_audio
from multimodal_genre.data import FEATURE_COLUMNS, GENRES
from multimodal_genre.data.images import open_image
from multimodal_genre.data.layout import FEATURES_CSV, PLOT_COLS, PLOT_ROWS, image_path
from multimodal_genre.prediction import predict_one
from multimodal_genre.runs import load_model_run

TINY_MEANS = ("harmony_mean", "perceptr_mean")  # means of signals centred on zero: relative error is noise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("GTZAN_DIR"), help="dataset (default: $GTZAN_DIR)")
    parser.add_argument("--run", type=Path, required=True, help="a trained model's run folder, to compare predictions")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parser.parse_args()
    if args.data is None:
        parser.error("name the dataset with --data or GTZAN_DIR")

    table = pd.read_csv(args.data / FEATURES_CSV).set_index("filename")
    run = load_model_run(args.run)
    (top, bottom), (left, right) = PLOT_ROWS, PLOT_COLS
    box = (slice(top, bottom + 1), slice(left, right + 1))
    rows, clips = {}, []
    started = time.perf_counter()
    for genre in GENRES:
        name = f"{genre}.00000.wav"
        found = extract_audio(args.data / "genres_original" / genre / name)
        ours_row, ours_image = found.rows[0], found.images[0]
        kaggle_row = table.loc[name, list(FEATURE_COLUMNS)].to_dict()
        kaggle_path = image_path(args.data, genre, name)
        kaggle_image = np.asarray(open_image(kaggle_path), dtype=float)
        pixels = np.abs(np.asarray(ours_image, dtype=float)[box][..., :3] - kaggle_image[box][..., :3])
        ours, theirs = predict_one(run, ours_image, ours_row), predict_one(run, kaggle_path, kaggle_row)
        rows[name] = ours_row
        clips.append(
            {
                "clip": name,
                "pixel_difference": round(float(pixels.mean()), 3),
                "predicted_from_audio": max(ours, key=ours.get),
                "predicted_from_kaggle_files": max(theirs, key=theirs.get),
                "probability_difference": round(max(abs(ours[g] - theirs[g]) for g in GENRES), 4),
            }
        )
    seconds = time.perf_counter() - started
    ours = pd.DataFrame(rows).T
    kaggle = table.loc[ours.index, list(FEATURE_COLUMNS)]
    errors = (ours - kaggle).abs() / kaggle.abs()
    columns = pd.DataFrame({"median": errors.median(), "max": errors.max()})
    others = columns.drop(index=list(TINY_MEANS))
    clip_table = pd.DataFrame(clips).set_index("clip")
    agree = int((clip_table["predicted_from_audio"] == clip_table["predicted_from_kaggle_files"]).sum())
    summary = {
        "benchmark": "audio_extraction",
        **provenance(),
        "run": str(args.run),
        "seconds": round(seconds, 1),
        "median_relative_error_all_columns": float(errors.stack().median()),
        "largest_column_median": float(columns["median"].max()),
        "largest_error_without_tiny_means": float(others["max"].max()),
        "tiny_means": {name: columns.loc[name].to_dict() for name in TINY_MEANS},
        "largest_pixel_difference": float(clip_table["pixel_difference"].max()),
        "predictions_agree": agree,
        "checks": {
            "median relative error < 1%": bool(errors.stack().median() < 0.01),
            "every feature but the tiny means < 5%": bool((others["max"] < 0.05).all()),
            "same prediction for >= 9 of 10 clips": agree >= 9,
        },
        "columns": {name: {"median": float(v["median"]), "max": float(v["max"])} for name, v in columns.iterrows()},
        "clips": clips,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "audio_extraction.json").write_text(json.dumps(summary, indent=2) + "\n")
    percent = columns.map(lambda value: f"{value:.4f}")
    lines = [
        "<!-- figures: audio_extraction.json -->",
        "# Audio extraction against the Kaggle files",
        "",
        f"Ten GTZAN clips (`{args.data}/genres_original`) extracted by `multimodal_genre.audio` and compared with",
        f"their `{FEATURES_CSV}` rows and `images_original` PNGs; predictions by the model in `{args.run}`.",
        f"Command: `{summary['command']}` ({seconds:.0f} s).",
        "",
        f"- median relative error over all 57 columns and 10 clips: {summary['median_relative_error_all_columns']:.2e}",
        f"- largest relative error, every column but {' and '.join(TINY_MEANS)}: "
        f"{summary['largest_error_without_tiny_means']:.4f}",
        "- largest mean absolute pixel difference (RGB) inside the plot box: "
        f"{summary['largest_pixel_difference']:.2f} of 255",
        f"- same predicted genre from our pair as from the Kaggle pair: {agree} of {len(clips)}",
        "",
        *(f"- check: {name}: {'pass' if passed else 'FAIL'}" for name, passed in summary["checks"].items()),
        "",
        "## Per clip",
        "",
        clip_table.to_markdown(),
        "",
        "## Relative error per feature column (over the ten clips)",
        "",
        percent.to_markdown(),
        "",
    ]
    (args.out / "audio_extraction.md").write_text("\n".join(lines))
    print("\n".join(lines[:14]))


if __name__ == "__main__":
    main()
