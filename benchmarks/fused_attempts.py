"""Attempts at a fused network that reaches the SVM: each one a model and a config, listed in
benchmarks/fused/attempts.yaml, scored by grouped 5-fold macro-F1 on split seeds 42 and 7, all in one table.

    python benchmarks/fused_attempts.py --data ../shared/gtzan                 # every attempt not yet run
    python benchmarks/fused_attempts.py --data ../shared/gtzan --only svm-view  # one attempt

Each attempt's comparison folder is kept under reports/runs/fused-attempts/ and taken back on the
next run (``--resume``), so a stopped run goes on where it stopped. The results gather in
reports/benchmarks/fused_attempts.json, and fused_attempts.md is made from it. The configs choose
nothing on test folds: an attempt's settings come before its figures, and lengths and weights are
chosen on training rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import yaml
from common import add_data_option, parse_with_data, provenance, quiet_dataset

from multimodal_genre import log
from multimodal_genre.comparison import run_comparison
from multimodal_genre.config import load_config
from multimodal_genre.records import Provenance, portable_command

ATTEMPTS = Path(__file__).parent / "fused" / "attempts.yaml"
RESULTS = Path("reports/benchmarks/fused_attempts.json")
RUNS = Path("reports/runs/fused-attempts")
SEEDS = (42, 7)
FOLDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--only", nargs="+", metavar="ATTEMPT", help="attempts to run (default: every one)")
    parser.add_argument("--again", action="store_true", help="run attempts that have results already")
    args = parse_with_data(parser)
    results = read_results()
    attempts = _plans()
    unknown = sorted(set(args.only or ()) - set(attempts))
    if unknown:
        parser.error(f"no attempt named {', '.join(unknown)} in {ATTEMPTS} (known: {', '.join(attempts)})")
    for name, plan in attempts.items():
        if (args.only and name not in args.only) or (name in results and not args.again and not args.only):
            continue
        config = ATTEMPTS.parent / plan["config"] if plan.get("config") else None
        save_result(name, {"about": plan["about"], **attempt(name, plan["model"], config, args.data)})


def _plans() -> dict:
    """attempts.yaml: each attempt's model, config and what it tries."""
    return yaml.safe_load(ATTEMPTS.read_text())


def read_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save_result(name: str, found: dict) -> None:
    """One attempt's figures into the results (read again here: another script may have added its
    own since), and the table made again."""
    results = {**read_results(), name: found}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    RESULTS.with_suffix(".md").write_text(markdown(results))


def attempt(name: str, model: str, path: Path | None, data: Path) -> dict:
    """One attempt's grouped 5-fold macro-F1 per split seed, each fold's too, and its wall time."""
    config = load_config(path)
    dataset = quiet_dataset(data, config.data)
    found: dict = {
        "model": model,
        "config": path.relative_to(ATTEMPTS.parent.parent.parent).as_posix() if path else "configs/default.yaml",
        **provenance(),
    }
    for seed in SEEDS:
        seeded = dataclasses.replace(config, split=dataclasses.replace(config.split, seed=seed))
        out = RUNS / f"{name}-seed{seed}"
        command = portable_command(["python", *sys.argv])
        result = run_comparison(
            dataset, seeded, out, models=[model], folds=FOLDS, provenance=Provenance(command), resume=out.is_dir()
        )
        scores = result.scores.loc[result.scores["model"] == model, "macro_f1"]
        found[f"seed{seed}"] = {
            "mean": round(float(scores.mean()), 4),
            "std": round(float(scores.std(ddof=1)), 4),
            "folds": [round(float(value), 4) for value in scores],
            "seconds": round(result.seconds, 1),
        }
    found["mean_of_seeds"] = round(sum(found[f"seed{seed}"]["mean"] for seed in SEEDS) / len(SEEDS), 4)
    return found


def markdown(results: dict) -> str:
    lines = [
        "# Attempts at a fused network that reaches the SVM",
        "",
        "Made by `benchmarks/fused_attempts.py` (see its docstring) from benchmarks/fused/attempts.yaml;",
        "grouped stratified 5-fold test macro-F1, mean ± standard deviation over folds, best first.",
        "",
        "| attempt | what it tries | seed 42 | seed 7 | mean | wall s (both seeds) | config |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, found in sorted(results.items(), key=lambda item: -item[1]["mean_of_seeds"]):
        cells = [f"{found[f'seed{seed}']['mean']:.3f} ± {found[f'seed{seed}']['std']:.3f}" for seed in SEEDS]
        seconds = sum(found[f"seed{seed}"]["seconds"] for seed in SEEDS)
        row = [name, f"{found['model']}: {found['about']}", *cells, f"{found['mean_of_seeds']:.3f}", f"{seconds:.0f}"]
        lines.append("| " + " | ".join([*row, f"`{found['config']}`"]) + " |")
    waiting = [f"{name} ({plan['about']})" for name, plan in _plans().items() if name not in results]
    if waiting:
        lines += ["", "Listed in attempts.yaml but not run yet: " + "; ".join(waiting) + "."]
    lines += ["", "Quick prototypes that led to some of these: fused_exploratory.md."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    with log.to_console():
        main()
