"""What the benchmark scripts share: the ``--data`` option (default $GTZAN_DIR), the dataset loaded
without the warning for its row that has no picture (GTZAN's jazz.00054), and the provenance every
benchmark JSON carries (date, commit, processor, command), so that each figure can be traced to the
command that made it and run again (``benchmarks/check.py``)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from multimodal_genre import __version__
from multimodal_genre.data import GenreDataset, MissingImageWarning, load_dataset
from multimodal_genre.data.settings import DataConfig
from multimodal_genre.records import portable_command

ROOT = Path(__file__).resolve().parent.parent


def add_data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=os.environ.get("GTZAN_DIR"), help="dataset (default: $GTZAN_DIR)")


def parse_with_data(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The parsed arguments; a missing dataset is the parser's own error."""
    args = parser.parse_args()
    if args.data is None:
        parser.error("name the dataset with --data or GTZAN_DIR")
    return args


def quiet_dataset(root: Path, config: DataConfig) -> GenreDataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingImageWarning)
        return load_dataset(root, config)


def provenance() -> dict[str, Any]:
    """Where and from what a benchmark's figures came: now, the commit (``-dirty`` where the package,
    configs or benchmarks differ from it), the processor and the command line as it was typed."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "processor": processor(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "package_version": __version__,
        "command": portable_command(["python", *sys.argv]),
    }


def commit() -> str:
    def git(*arguments: str) -> str:
        return subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False).stdout

    head = git("rev-parse", "--short=7", "HEAD").strip() or "unknown"
    changed = git("status", "--porcelain", "--", "multimodal_genre", "configs", "benchmarks").strip()
    return f"{head}-dirty" if changed else head


def processor() -> str:
    """The processor's model name, as the system gives it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def render_between(path: Path, start: str, end: str, text: str) -> None:
    """``text`` in place of what ``path`` holds between its ``start`` and ``end`` markers."""
    page = path.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(page):
        raise SystemExit(f"{path}: no {start} ... {end} markers")
    path.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", page))
