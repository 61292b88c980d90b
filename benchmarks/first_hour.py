"""A newcomer's first hour, timed step by step from empty caches on this machine.

Each step runs as a user types it, in a new virtual environment made from this checkout, with
an empty package cache (``MULTIMODAL_GENRE_CACHE``) and pip's download cache off:

1. install: ``pip install -e .[cpu]``, as ``make run`` does;
2. demo: ``multimodal-genre compare`` with no dataset (the synthetic demo ``make run`` ends with),
   with the number and width of the lines it prints;
3. musicnn's pass: the pre-trained view of every picture, once (then cached), per picture, its
   weights fetched first as on a new machine;
4. fused training: ``train --model fused`` on the hold-out split, the view cached;
5. default compare: ``compare`` of every default model on the hold-out split, the view cached;
6. predict: ``predict`` of one clip with the compare's SVM: its first call in the new environment
   (Python compiles the modules and numba librosa's kernels, once), another clip, then the median of
   three calls on the first clip again, read back from the cache.

Writes reports/benchmarks/first_hour.{json,md} and the README's table of times between its markers:

    python benchmarks/first_hour.py --data ../shared/gtzan
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, add_data_option, parse_with_data, provenance, render_between, write_json

README_START, README_END = "<!-- times table: benchmarks/first_hour.py -->", "<!-- end of times table -->"
CLIP = "genres_original/jazz/jazz.00000.wav"
OTHER_CLIP = "genres_original/blues/blues.00000.wav"
PASS = """
import sys, time
from multimodal_genre.config import load_config
from multimodal_genre.data import load_dataset
from multimodal_genre.musicnn.embeddings import dataset_embedding
from multimodal_genre.views import with_sources
config = load_config()
dataset = load_dataset(sys.argv[1], config.data)
config = with_sources(config, dataset)
started = time.perf_counter()
dataset_embedding(dataset, config.models["svm"].pretrained.embedding, config.data)
print(time.perf_counter() - started, len(dataset))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parse_with_data(parser)
    data = args.data.resolve()

    with tempfile.TemporaryDirectory() as scratch:
        place = Path(scratch)
        steps = run_steps(place, data)
    result = {**provenance(), "steps": steps}
    write_json(args.out / "first_hour.json", result)
    (args.out / "first_hour.md").write_text(markdown(result))
    render_between(ROOT / "README.md", README_START, README_END, times_table(result))
    print((args.out / "first_hour.md").read_text())


def run_steps(place: Path, data: Path) -> dict[str, Any]:
    venv, cache = place / "venv", place / "cache"
    environment = {**os.environ, "MULTIMODAL_GENRE_CACHE": str(cache), "PIP_NO_CACHE_DIR": "1", "CI": ""}
    for name in ("GTZAN_DIR", "MULTIMODAL_GENRE_WEIGHTS"):  # a newcomer has neither: musicnn's weights are fetched
        environment.pop(name, None)
    tool = str(venv / "bin" / "multimodal-genre")

    def timed(*command: str, cwd: Path = place) -> tuple[float, str]:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=environment, check=True, capture_output=True, text=True)
        return time.perf_counter() - started, done.stdout

    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    steps: dict[str, Any] = {}
    seconds, _ = timed(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[cpu]")
    steps["install"] = {"seconds": round(seconds, 1)}
    seconds, printed = timed(tool, "compare", "--out", str(place / "demo"))
    lines = printed.splitlines()
    steps["demo"] = {"seconds": round(seconds, 1), "lines": len(lines), "widest": max(map(len, lines), default=0)}
    seconds, printed = timed(str(venv / "bin" / "python"), "-c", PASS, str(data))
    passed, pictures = printed.split()
    steps["musicnn_pass"] = {
        "seconds": round(float(passed), 1),
        "pictures": int(pictures),
        "seconds_per_picture": round(float(passed) / int(pictures), 3),
    }
    seconds, _ = timed(tool, "train", "--model", "fused", "--data", str(data), "--out", str(place / "fused"))
    steps["fused_training"] = {"seconds": round(seconds, 1)}
    seconds, _ = timed(tool, "compare", "--data", str(data), "--out", str(place / "compare"))
    steps["default_compare"] = {"seconds": round(seconds, 1)}
    clips = [CLIP, OTHER_CLIP, CLIP, CLIP, CLIP]
    calls = [timed(tool, "predict", str(place / "compare" / "svm"), str(data / clip))[0] for clip in clips]
    steps["predict"] = {
        "clip": CLIP,
        "first_seconds": round(calls[0], 1),
        "other_clip": OTHER_CLIP,
        "other_clip_seconds": round(calls[1], 1),
        "later_seconds": [round(call, 1) for call in calls[2:]],
        "later_median_seconds": round(statistics.median(calls[2:]), 1),
    }
    shutil.rmtree(venv)
    return steps


def _clock(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def times_table(result: dict[str, Any]) -> str:
    steps = result["steps"]
    passed, predict = steps["musicnn_pass"], steps["predict"]
    rows = [
        ("install (`make run`'s pip install, nothing cached)", _clock(steps["install"]["seconds"])),
        ("the demo on synthetic data (`make run` without a dataset)", _clock(steps["demo"]["seconds"])),
        (
            f"musicnn's pass over the {passed['pictures']} pictures, once (cached after)",
            f"{_clock(passed['seconds'])}, {passed['seconds_per_picture']:.2f} s a picture",
        ),
        ("`train --model fused`, the pass cached", _clock(steps["fused_training"]["seconds"])),
        ("`compare`: every default model on one grouped split", _clock(steps["default_compare"]["seconds"])),
        (
            "`predict RUN clip.wav` with the compare's svm: its first call in a new environment; "
            "then another clip; then the same clip again (read back from the cache)",
            f"{_clock(predict['first_seconds'])}; {_clock(predict['other_clip_seconds'])}; "
            f"{_clock(predict['later_median_seconds'])}",
        ),
    ]
    return "\n".join(
        [
            f"Timed by `{result['command']}` on {result['date'][:10]}, {result['processor']} ({result['cpus']} cores):",
            "",
            "| step | time |",
            "|---|---|",
            *(f"| {step} | {seconds} |" for step, seconds in rows),
        ]
    )


def markdown(result: dict[str, Any]) -> str:
    demo = result["steps"]["demo"]
    return "\n".join(
        [
            "<!-- figures: first_hour.json -->",
            "# A newcomer's first hour",
            "",
            "Each step as typed, in a new virtual environment, from an empty package cache, pip's download",
            f"cache off. Commit {result['commit']}.",
            "",
            times_table(result),
            "",
            f"The demo printed {demo['lines']} lines, the widest {demo['widest']} characters.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
