"""Model comparison on real data against the project's targets for the default (untuned) configs.

Runs `multimodal-genre compare` (grouped 5-fold by default, or the hold-out split with --folds 0),
keeps the full run folders under reports/runs/, and writes a compact, committed summary:
reports/benchmarks/comparison_<kind>.{md,json} and the per-genre F1 chart.

    python benchmarks/model_comparison.py --data ../shared/gtzan --folds 5
    python benchmarks/model_comparison.py --data ../shared/gtzan --folds 0   # single split, timed
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from common import add_data_option, parse_with_data, quiet_dataset

from multimodal_genre import __version__, log
from multimodal_genre.comparison import run_comparison
from multimodal_genre.config import load_config
from multimodal_genre.families import family
from multimodal_genre.files import new_run_dir
from multimodal_genre.records import portable_command

MACRO_F1_TARGETS = {"mlp": 0.72, "xgboost": 0.74, "cnn": 0.65, "fused": 0.80}
FUSION_MARGIN = 0.03  # fused must beat the best single-view model by this much macro-F1
HOLDOUT_SECONDS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--folds", type=int, default=5, help="grouped K-fold; 0 for the single hold-out split")
    parser.add_argument("--config", type=Path, help="config file (default: configs/default.yaml)")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parse_with_data(parser)

    config = load_config(args.config)
    dataset = quiet_dataset(args.data, config.data)
    folds = args.folds or None
    kind = f"{folds}fold" if folds else "holdout"
    command = portable_command(["python", *sys.argv])
    runs = new_run_dir(Path("reports/runs"), f"benchmark-{kind}")
    result = run_comparison(dataset, config, runs, folds=folds, command=command)

    means = result.scores.groupby("model")["macro_f1"].mean()
    stds = result.scores.groupby("model")["macro_f1"].std(ddof=1) if folds else None
    best_single = max((name for name in means.index if len(family(name).views) == 1), key=means.get)
    checks = {
        f"{name} macro-F1 >= {target:.2f}": bool(means[name] >= target) for name, target in MACRO_F1_TARGETS.items()
    }
    margin = float(means["fused"] - means[best_single])
    checks[f"fused - best single view ({best_single}) >= {FUSION_MARGIN:.2f}"] = margin >= FUSION_MARGIN
    if not folds:
        checks[f"wall time < {HOLDOUT_SECONDS:.0f} s"] = result.seconds < HOLDOUT_SECONDS

    summary = {
        "benchmark": f"model_comparison_{kind}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "package_version": __version__,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "dataset": {"path": str(args.data), "tracks": len(dataset), "fingerprint": dataset.fingerprint},
        "wall_seconds": round(result.seconds, 1),
        "macro_f1_mean": means.round(4).to_dict(),
        "macro_f1_std": None if stds is None else stds.round(4).to_dict(),
        "fused_minus_best_single": round(margin, 4),
        "checks": checks,
        "run_folder": str(runs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"comparison_{kind}.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.copyfile(runs / "per_genre_f1.png", args.out / f"comparison_{kind}_per_genre_f1.png")
    rows = "\n".join(f"| {check} | {'yes' if passed else 'NO'} |" for check, passed in checks.items())
    comparison = (runs / "comparison.md").read_text().replace("per_genre_f1.png", f"comparison_{kind}_per_genre_f1.png")
    (args.out / f"comparison_{kind}.md").write_text(
        f"# Benchmark: model comparison ({kind})\n\n"
        f"{summary['date']}, {os.cpu_count()} CPUs, {platform.platform()}, multimodal-genre {__version__}.\n"
        f"Command: `{command}`; wall time {result.seconds:.0f} s.\n\n"
        f"| target (default configs) | met |\n|---|---|\n{rows}\n\n" + comparison.split("\n", 1)[1]
    )
    print((args.out / f"comparison_{kind}.md").read_text())


if __name__ == "__main__":
    with log.to_console():
        main()
