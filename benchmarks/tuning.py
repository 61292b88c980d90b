"""Tuning benchmark: an Optuna study per model on real data, then grouped 5-fold cross-validation
of the tuned config next to the untuned defaults (from comparison_5fold.json).

The target: tuning adds at least 2 points of 5-fold macro-F1 to the fused model. Results for each
model are merged into reports/benchmarks/tuning.{md,json}, so models can be run one at a time:

    python benchmarks/tuning.py --data ../shared/gtzan --model fused --trials 40 --timeout 1800
    python benchmarks/tuning.py --data ../shared/gtzan --model xgboost --trials 60 --timeout 600
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

import optuna
from common import add_data_option, parse_with_data, quiet_dataset

from multimodal_genre import __version__, log
from multimodal_genre.comparison import run_comparison
from multimodal_genre.config import load_config
from multimodal_genre.families import FAMILIES
from multimodal_genre.files import new_run_dir
from multimodal_genre.records import portable_command
from multimodal_genre.search import load_search
from multimodal_genre.tuning import TUNING_DIR, default_storage, tune

FUSED_GAIN_TARGET = 0.02
PLOTS = ("optimization_history", "param_importances")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--model", choices=list(FAMILIES), required=True)
    parser.add_argument("--trials", type=int, required=True, help="most trials in the study")
    parser.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    parser.add_argument(
        "--folds", type=int, help="objective over K grouped inner folds (default: the validation split)"
    )
    parser.add_argument("--search", type=Path, help="changes to configs/search.yaml, e.g. configs/search-quick.yaml")
    parser.add_argument("--study-name", help="resume this study (default: a new one, benchmark-<model>-<time>)")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parse_with_data(parser)

    config = load_config()
    search = load_search(config, args.search)
    dataset = quiet_dataset(args.data, config.data)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    command = portable_command(["python", *sys.argv])
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    study_name = args.study_name or f"benchmark-{args.model}-{stamp}"
    earlier = _trials_so_far(study_name)
    result = tune(
        args.model,
        dataset,
        config,
        search,
        trials=args.trials,
        timeout=args.timeout,
        study_name=study_name,
        folds=args.folds,
        out=TUNING_DIR,
        command=command,
    )
    tuned = load_config(result.directory / "tuned.yaml")
    runs = new_run_dir(Path("reports/runs"), "tuned")  # a report labels its model "<model> · tuned"
    cross = run_comparison(dataset, tuned, runs, models=[args.model], folds=5, command=command)
    folds = cross.scores["macro_f1"]

    defaults = json.loads((args.out / "comparison_5fold.json").read_text())
    holdout = json.loads((args.out / "comparison_holdout.json").read_text())
    finished = result.counts["complete"] + result.counts["pruned"]
    entry = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "package_version": __version__,
        "dataset": {"path": str(args.data), "tracks": len(dataset), "fingerprint": dataset.fingerprint},
        "study": result.study_name,
        "budget": {"trials": args.trials, "timeout_seconds": args.timeout, "resumed_after_trials": earlier},
        "search": str(args.search or "configs/search.yaml"),
        "objective": "validation macro-F1" + (f", mean over {args.folds} grouped inner folds" if args.folds else ""),
        "trials": result.counts,
        "pruned_share": round(result.counts["pruned"] / finished, 3) if finished else None,
        "trials_per_hour": round(result.trials_per_hour, 1),
        "best_validation_macro_f1": round(result.best_value, 4),
        "best_params": result.best_params,
        "holdout_test_macro_f1": {
            "tuned_retrained": round(result.test_scores["macro_f1"], 4),
            "default": holdout["macro_f1_mean"][args.model],
        },
        "kfold_macro_f1": {
            "tuned_mean": round(float(folds.mean()), 4),
            "tuned_std": round(float(folds.std(ddof=1)), 4),
            "default_mean": defaults["macro_f1_mean"][args.model],
            "default_std": defaults["macro_f1_std"][args.model],
            "tuned_folds": [round(float(value), 4) for value in folds],
            "seconds": round(cross.seconds, 1),
        },
    }
    entry["kfold_macro_f1"]["gain"] = round(
        entry["kfold_macro_f1"]["tuned_mean"] - entry["kfold_macro_f1"]["default_mean"], 4
    )
    for plot in PLOTS:
        if (result.directory / f"{plot}.png").is_file():
            shutil.copyfile(result.directory / f"{plot}.png", args.out / f"tuning_{args.model}_{plot}.png")

    path = args.out / "tuning.json"
    everything = json.loads(path.read_text()) if path.is_file() else {}
    everything[args.model] = entry
    path.write_text(json.dumps(everything, indent=2) + "\n")
    (args.out / "tuning.md").write_text(_markdown(everything))
    print((args.out / "tuning.md").read_text())


def _trials_so_far(study_name: str) -> int:
    try:
        return len(optuna.load_study(study_name=study_name, storage=default_storage(TUNING_DIR)).trials)
    except KeyError:  # no such study yet
        return 0


def _markdown(everything: dict) -> str:
    lines = [
        "# Benchmark: tuning",
        "",
        "Per model: an Optuna study (objective: macro-F1 on the grouped validation split, or its mean",
        "over grouped inner folds of train + validation; TPE sampler, median pruner), the best settings",
        "re-trained on train + validation and tested once on the hold-out test split, then the tuned",
        "config cross-validated with grouped 5-fold next to the untuned default.",
        f"Target: tuning adds at least {FUSED_GAIN_TARGET:.2f} of 5-fold macro-F1 to the fused model.",
        "",
        "| model | budget | objective | trials (complete / pruned / failed) | pruned share | trials per hour "
        "| best validation macro-F1 | test macro-F1: tuned / default | 5-fold macro-F1: tuned | default | gain |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in FAMILIES:
        if model not in everything:
            continue
        entry = everything[model]
        budget = entry["budget"]
        timeout = f", {budget['timeout_seconds']:.0f} s" if budget["timeout_seconds"] else ""
        if budget.get("resumed_after_trials"):
            timeout += f", resumed after {budget['resumed_after_trials']} trials"
        trials, kfold, holdout = entry["trials"], entry["kfold_macro_f1"], entry["holdout_test_macro_f1"]
        lines.append(
            f"| {model} | {budget['trials']} trials{timeout} | {entry['objective']} "
            f"| {trials['complete']} / {trials['pruned']} / {trials['fail']} "
            f"| {entry['pruned_share']:.0%} | {entry['trials_per_hour']:.0f} | {entry['best_validation_macro_f1']:.3f} "
            f"| {holdout['tuned_retrained']:.3f} / {holdout['default']:.3f} "
            f"| {kfold['tuned_mean']:.3f} ± {kfold['tuned_std']:.3f} "
            f"| {kfold['default_mean']:.3f} ± {kfold['default_std']:.3f} "
            f"| {kfold['gain']:+.3f} |"
        )
    lines += ["", "Commands, best settings and dates are in `tuning.json`.", ""]
    for model in FAMILIES:
        if model in everything:
            lines += [f"## {model}", "", f"`{everything[model]['command']}` ({everything[model]['date']})", ""]
            lines += [f"- `{key}`: {value}" for key, value in everything[model]["best_params"].items()]
            lines += ["", *(f"![{plot}](tuning_{model}_{plot}.png)" for plot in PLOTS), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    with log.to_console():
        main()
