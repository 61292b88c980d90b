"""predict's time on one clip: this checkout against an earlier commit, interleaved on one machine.

Both sides score the same clip with the same finished run folder (one both can read), as a user
types it: ``multimodal-genre predict RUN CLIP`` in a new process. The earlier commit is checked out
into a temporary git worktree and run by this interpreter with that worktree first on its path, so
both sides use the same libraries and differ only in the package's code. Each side has its own
package cache, empty at the start: one warm-up call (its first), then the sides take turns for
``--repeats`` rounds of the same clip again (the target: a median at most half the earlier
commit's), then as many rounds each from an empty cache, as for a clip never scored before.
Writes reports/benchmarks/predict_speed.{json,md}:

    python benchmarks/predict_speed.py --against 94744aa --run RUN --clip CLIP
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from common import ROOT, provenance, write_json

TARGET = 0.5  # the median call at most this share of the earlier commit's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished run folder both sides can read")
    parser.add_argument("--clip", type=Path, required=True, help="the audio file to score")
    parser.add_argument("--against", required=True, help="the earlier commit")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parser.parse_args()
    for path in (args.run, args.clip):
        if not path.exists():
            parser.error(f"{path}: not found")

    with worktree(args.against) as earlier, tempfile.TemporaryDirectory() as caches:
        sides = {"earlier": earlier, "this": ROOT}

        def call(side: str, cache: str) -> float:
            return timed_call(sides[side], args.run, args.clip, Path(caches) / cache)

        first = {side: call(side, side) for side in sides}
        again: dict[str, list[float]] = {side: [] for side in sides}
        fresh: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(args.repeats):
            for side in sides:
                again[side].append(call(side, side))
        for round_ in range(args.repeats):
            for side in sides:
                fresh[side].append(call(side, f"{side}-empty-{round_}"))
    medians = {side: statistics.median(seconds) for side, seconds in again.items()}
    fresh_medians = {side: statistics.median(seconds) for side, seconds in fresh.items()}
    ratio = medians["this"] / medians["earlier"]
    result = {
        **provenance(),
        "against": args.against,
        "run": str(args.run),
        "clip": str(args.clip),
        "first_call_seconds": {side: round(seconds, 2) for side, seconds in first.items()},
        "later_calls_seconds": {side: [round(s, 2) for s in seconds] for side, seconds in again.items()},
        "median_seconds": {side: round(seconds, 2) for side, seconds in medians.items()},
        "ratio": round(ratio, 3),
        "target_ratio": TARGET,
        "target_met": ratio <= TARGET,
        "empty_cache_calls_seconds": {side: [round(s, 2) for s in seconds] for side, seconds in fresh.items()},
        "empty_cache_median_seconds": {side: round(seconds, 2) for side, seconds in fresh_medians.items()},
        "empty_cache_ratio": round(fresh_medians["this"] / fresh_medians["earlier"], 3),
    }
    write_json(args.out / "predict_speed.json", result)
    (args.out / "predict_speed.md").write_text(markdown(result))
    print((args.out / "predict_speed.md").read_text())


def timed_call(source: Path, run: Path, clip: Path, cache: Path) -> float:
    """Seconds for ``multimodal-genre predict run clip`` in a new process, the package from ``source``
    and its cache in ``cache``."""
    environment = {**os.environ, "PYTHONPATH": str(source), "MULTIMODAL_GENRE_CACHE": str(cache)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "multimodal_genre", "predict", str(run.resolve()), str(clip.resolve())],
        cwd=source,
        env=environment,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """The commit ``revision`` checked out in a temporary folder, removed after."""
    with tempfile.TemporaryDirectory() as parent:
        folder = Path(parent) / "earlier"
        subprocess.run(["git", "worktree", "add", "--detach", str(folder), revision], cwd=ROOT, check=True)
        try:
            yield folder
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=True)


def markdown(result: dict) -> str:
    again, fresh = result["later_calls_seconds"], result["empty_cache_calls_seconds"]
    rows = [
        f"| {label} | {result['first_call_seconds'][side]:.1f} | {', '.join(f'{s:.1f}' for s in again[side])} "
        f"| {result['median_seconds'][side]:.1f} | {', '.join(f'{s:.1f}' for s in fresh[side])} "
        f"| {result['empty_cache_median_seconds'][side]:.1f} |"
        for side, label in (("earlier", f"commit {result['against']}"), ("this", f"commit {result['commit']}"))
    ]
    return "\n".join(
        [
            "<!-- figures: predict_speed.json -->",
            "# predict: one clip, this commit against an earlier one",
            "",
            f"{result['date']}, {result['processor']} ({result['cpus']} CPUs). Run `{result['run']}`, clip "
            f"`{result['clip']}`; each call a new process, as typed at a prompt, interleaved.",
            "",
            "| code | first call s | the same clip again s | median s | from an empty cache s | median s |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"The same clip again: median ratio {result['ratio']:.2f} (target at most {result['target_ratio']:.1f}): "
            f"{'met' if result['target_met'] else '**not met**'}. A clip never scored before (an empty cache): "
            f"ratio {result['empty_cache_ratio']:.2f}.",
            "",
            f"Made by `{result['command']}`.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
