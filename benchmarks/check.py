"""Run again the command a benchmark JSON records, and print each of its figures beside the new one.

Every JSON under reports/benchmarks/ names the command that wrote it. This runs that command here,
its results into a scratch folder (``--out``), so the committed files stay as they are, then lists
every figure: its place in the JSON, the value recorded, the value now and their difference.
Arguments after ``--`` are added to the command (``-- --only svm/seed42`` runs one entry of tuning.json):

    python benchmarks/check.py reports/benchmarks/defaults.json
    python benchmarks/check.py reports/benchmarks/tuning.json -- --only svm/seed42
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="a benchmark JSON under reports/benchmarks/")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="-- then arguments added to the command")
    args = parser.parse_args()
    recorded = json.loads(args.json.read_text())
    if "command" not in recorded:
        parser.error(f"{args.json}: records no command (a published figure's JSON holds citations instead)")
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    with tempfile.TemporaryDirectory(prefix="benchmark-check-") as scratch:
        words = [*shlex.split(recorded["command"]), *extra, "--out", scratch]
        if words[0] == "python":
            words[0] = sys.executable
        print("Running:", shlex.join(words), flush=True)
        subprocess.run(words, cwd=ROOT, check=True)
        again = json.loads((Path(scratch) / args.json.name).read_text())
    print(f"\n{'figure':<60} {'recorded':>10} {'now':>10} {'difference':>11}")
    now = dict(figures(again))
    for place, value in figures(recorded):
        if place in now:
            print(f"{place[-60:]:<60} {value:>10.4f} {now[place]:>10.4f} {now[place] - value:>+11.4f}")
        else:
            print(f"{place[-60:]:<60} {value:>10.4f} {'not run':>10}")


def figures(data: Any, place: str = "") -> Iterator[tuple[str, float]]:
    """Every number in ``data`` (bools aside), with its place as a dotted path."""
    if isinstance(data, bool):
        return
    if isinstance(data, (int, float)):
        yield place, float(data)
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from figures(value, f"{place}.{key}" if place else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from figures(value, f"{place}[{index}]")


if __name__ == "__main__":
    main()
