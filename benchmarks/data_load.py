"""Dataset load time, cold (empty image cache) and cached, against the targets of 10 s and 1 s.

Writes reports/benchmarks/data_load.json and .md. "Cold" means this package's image cache is
empty; the operating system's file cache may still hold the PNGs after the first repeat.

    python benchmarks/data_load.py --data ../shared/gtzan
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from common import provenance

from multimodal_genre.config import load_config
from multimodal_genre.data import GenreDataset, MissingImageWarning, load_dataset
from multimodal_genre.data.settings import DataConfig

TARGETS = {"cold": 10.0, "cached": 1.0}


def timed_load(root: Path, data_config: DataConfig) -> tuple[float, GenreDataset]:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingImageWarning)
        dataset = load_dataset(root, data_config)
    return time.perf_counter() - started, dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("GTZAN_DIR"), help="dataset (default: $GTZAN_DIR)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parser.parse_args()
    if args.data is None:
        parser.error("name the dataset with --data or GTZAN_DIR")

    data_config = load_config().data
    cold, cached = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache_dir:
            settings = dataclasses.replace(data_config, cache_dir=cache_dir)
            seconds, dataset = timed_load(args.data, settings)
            assert dataset.image_cache == "miss"
            cold.append(seconds)
            seconds, dataset = timed_load(args.data, settings)
            assert dataset.image_cache == "hit"
            cached.append(seconds)

    medians = {"cold": statistics.median(cold), "cached": statistics.median(cached)}
    result = {
        "benchmark": "data_load",
        **provenance(),
        "dataset": {
            "path": str(args.data),
            "tracks": len(dataset),
            "fingerprint": dataset.fingerprint,
            "synthetic": dataset.synthetic,
            "image_shape": list(dataset.images.shape[1:]),
        },
        "seconds": {"cold": cold, "cached": cached},
        "median_seconds": medians,
        "targets_seconds": TARGETS,
        "targets_met": {kind: medians[kind] < TARGETS[kind] for kind in TARGETS},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "data_load.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [
        f"| {kind} | {medians[kind]:.2f} | {', '.join(f'{s:.2f}' for s in result['seconds'][kind])} "
        f"| < {TARGETS[kind]:.0f} | {'yes' if result['targets_met'][kind] else 'NO'} |"
        for kind in TARGETS
    ]
    (args.out / "data_load.md").write_text(
        f"<!-- figures: data_load.json -->\n# Dataset load time\n\n{result['date']}, {result['processor']} "
        f"({result['cpus']} CPUs), {result['platform']}, commit {result['commit']}.\n"
        f"Dataset `{args.data}`: {len(dataset)} tracks, fingerprint {dataset.fingerprint},"
        f" images to {'x'.join(map(str, dataset.images.shape[1:]))}.\n\n"
        "| load | median s | each repeat s | target s | met |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "Cold: empty image cache (PNG decoding, crop, resize). Cached: arrays read back from the cache.\n"
        f"Made by `{result['command']}`.\n"
    )
    print((args.out / "data_load.md").read_text())


if __name__ == "__main__":
    main()
