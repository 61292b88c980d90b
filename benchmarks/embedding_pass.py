"""The pre-trained view's one pass over a dataset's pictures: seconds and peak memory, from a cold cache.

Computes the musicnn view of every track that a config's models read (``views.prepare``) in a
fresh, empty cache folder, so nothing is taken from an earlier run, and writes the wall time, the
time per picture and the process's peak resident memory to ``--out`` (JSON):

    python benchmarks/embedding_pass.py --data ../shared/gtzan --out reports/benchmarks/embedding_pass.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import add_data_option, parse_with_data, quiet_dataset

from multimodal_genre import __version__
from multimodal_genre.backend import describe
from multimodal_genre.config import load_config
from multimodal_genre.records import portable_command
from multimodal_genre.views import needed_views, prepare, with_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--config", type=Path, help="changes to configs/default.yaml")
    parser.add_argument("--models", nargs="+", default=["musicnn"], help="the models whose views are computed")
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the figures")
    args = parse_with_data(parser)

    config = load_config(args.config)
    dataset = quiet_dataset(args.data, config.data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="embedding-pass-") as scratch:
        cold = dataclasses.replace(config, data=dataclasses.replace(config.data, cache=True, cache_dir=scratch))
        started = time.perf_counter()
        viewed = prepare(dataset, cold, args.models).dataset
        seconds = time.perf_counter() - started
    views = needed_views(with_sources(config, dataset), args.models)
    figures = {
        "command": portable_command(["python", *sys.argv]),
        "version": __version__,
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {cpu_model()}",
        "backend": describe(),
        "pictures": len(dataset),
        "views": {view.key: list(viewed.embeddings[view.key].shape) for view in views},
        "seconds": round(seconds, 1),
        "seconds_per_picture": round(seconds / len(dataset), 3),
        "peak_resident_mb_before": round(before / 1024),
        "peak_resident_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


def cpu_model() -> str:
    """The processor's name as Linux gives it: the pass's time depends on it more than on anything here."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "processor unknown"
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "processor unknown"


if __name__ == "__main__":
    main()
