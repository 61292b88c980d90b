"""Does a study gain, or only seem to? Every model's study nested in outer grouped folds.

For each model and split seed, ``tune --outer-folds 5``: in each outer fold a study on the fold's
training side (the configured settings scored first, then the trials, on the same inner folds), its
decision (the winner only where it beats the configured settings by more than the inner folds' noise),
and the decision, the configured settings and the winner each re-trained alike and tested once on the
fold's test side. Target: the decision's mean macro-F1 at least the configured settings' minus 0.003,
for every model on both seeds; "always the winner" beside it shows what the rule refuses and keeps. On
the fault-filtered split, the SVM's study on its training and validation lists, tested once on its
test list. Results merge into reports/benchmarks/tuning.{json,md}, an entry at a time, so that an
interrupted run goes on where it stopped:

    python benchmarks/tuning.py --data ../shared/gtzan --jobs 2
    python benchmarks/tuning.py --data ../shared/gtzan --jobs 2 --only svm/seed42 xgboost/seed42
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from common import add_data_option, parse_with_data, provenance, quiet_dataset, read_json, write_json

from multimodal_genre import log
from multimodal_genre.config import load_config
from multimodal_genre.data import split_for
from multimodal_genre.records import Provenance
from multimodal_genre.search import load_search
from multimodal_genre.statistics import corrected_t_test
from multimodal_genre.tuning import StudyOptions, tune_outer_folds, tuning_for
from multimodal_genre.views import with_sources
from multimodal_genre.workers import Workers

# Trials and inner folds of each study: the largest budgets that fit the whole benchmark in a working
# day on 2 cores; the fused network's, the costliest, in the hour a session had left for it.
BUDGETS = {"svm": (40, 4), "xgboost": (24, 3), "mlp": (16, 3), "musicnn": (16, 3), "fused": (3, 2)}
SEEDS = (42, 7)
OUTER_FOLDS = 5
LISTED = ("svm",)  # studied on the fault-filtered lists too
TARGET = 0.003  # the decision may lose at most this much to the configured settings
STUDIES = Path("reports/tuning/benchmark")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--only", nargs="+", metavar="ENTRY", help="e.g. svm/seed42 svm/fault-filtered")
    parser.add_argument("--redo", action="store_true", help="run the entries again though the JSON has them")
    parser.add_argument("--jobs", type=int, default=1, help="trials side by side (each with its share of cores)")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parse_with_data(parser)

    entries = every_entry()
    unknown = sorted(set(args.only or []) - set(entries))
    if unknown:
        parser.error(f"no entry {', '.join(unknown)} (entries: {', '.join(entries)})")
    path = args.out / "tuning.json"
    results = read_json(path)
    results.setdefault("entries", {})
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for entry in args.only or entries:
        if entry in results["entries"] and not args.redo:
            continue
        results["entries"][entry] = run_entry(entry, args)
        results.update(what=__doc__.split("\n\n")[1].replace("\n", " "), command=_command(), targets={"loss": TARGET})
        write_json(path, results)
    if results["entries"]:
        (args.out / "tuning.md").write_text(markdown(results))
        print((args.out / "tuning.md").read_text())


def every_entry() -> list[str]:
    return [f"{model}/seed{seed}" for model in BUDGETS for seed in SEEDS] + [f"{m}/fault-filtered" for m in LISTED]


def _command() -> str:
    return "python benchmarks/tuning.py --data ../shared/gtzan --jobs 2"


def run_entry(entry: str, args: argparse.Namespace) -> dict[str, Any]:
    """One model's studies on one split seed (over outer folds) or on the fault-filtered lists."""
    model, where = entry.split("/")
    trials, folds = BUDGETS[model]
    config = load_config()
    lists = where == "fault-filtered"
    split = dataclasses.replace(config.split, lists="fault-filtered") if lists else config.split
    config = dataclasses.replace(config, split=split if lists else dataclasses.replace(split, seed=int(where[4:])))
    dataset = quiet_dataset(args.data, config.data)
    config = with_sources(config, dataset)
    name = entry.replace("/", "-")
    shutil.rmtree(STUDIES / name, ignore_errors=True)  # an interrupted entry starts again whole
    options = StudyOptions(trials, None, None, folds, outer_folds=None if lists else OUTER_FOLDS)
    started = time.perf_counter()
    with Workers(args.jobs) as workers:
        command = provenance()["command"]
        study = tuning_for(model, dataset, config, load_search(config), options, None, Provenance(command), workers)
        if lists:
            result = study.run(name, split_for(dataset, config.split), STUDIES / name, both=True)
            table = pd.DataFrame([_listed_row(result)])
        else:
            table = tune_outer_folds(study, name, STUDIES)
    return {
        **provenance(),
        "budget": {"trials": trials, "inner_folds": folds, "outer_folds": None if lists else OUTER_FOLDS},
        "wall_seconds": round(time.perf_counter() - started, 1),
        "rows": table.round(4).to_dict(orient="records"),
        **({} if lists else summary(table)),
    }


def _listed_row(result: Any) -> dict[str, Any]:
    decision = result.decision
    return {
        "tuned_macro_f1": result.test_scores["macro_f1"],
        "untuned_macro_f1": result.default_test,
        "winner_macro_f1": result.winner_test,
        "tuned_accuracy": result.test_scores["accuracy"],
        "kept": decision.kept,
        "inner_configured": decision.default_score,
        "inner_winner": decision.winner_score,
        "inner_difference": decision.difference,
        "p_value": decision.p_value,
        "winner_trial": decision.winner_trial,
        "trials": result.counts["complete"],
    }


def summary(table: pd.DataFrame) -> dict[str, Any]:
    """Means over the outer folds, the differences from the configured settings and the target."""
    tuned, untuned, winner = table["tuned_macro_f1"], table["untuned_macro_f1"], table["winner_macro_f1"]
    t, p = corrected_t_test((tuned - untuned).to_numpy(), 1 / (len(table) - 1))
    return {
        "decision_mean": round(tuned.mean(), 4),
        "decision_std": round(tuned.std(ddof=1), 4),
        "configured_mean": round(untuned.mean(), 4),
        "configured_std": round(untuned.std(ddof=1), 4),
        "winner_mean": round(winner.mean(), 4),
        "winner_std": round(winner.std(ddof=1), 4),
        "decision_minus_configured": round(tuned.mean() - untuned.mean(), 4),
        "winner_minus_configured": round(winner.mean() - untuned.mean(), 4),
        "corrected_t": round(t, 2),
        "p_value": round(p, 3),
        "winner_taken": int((table["kept"] == "winner").sum()),
        "target_met": bool(tuned.mean() >= untuned.mean() - TARGET),
    }


def markdown(results: dict[str, Any]) -> str:
    entries = results["entries"]
    lines = [
        "<!-- figures: tuning.json -->",
        "# Benchmark: does a study gain?",
        "",
        results["what"],
        "",
        f"Command: `{results['command']}`; every figure below is in `tuning.json`, with the date, commit and",
        "processor of the entry that made it. Test macro-F1 over the outer folds, mean ± std.",
        "",
        "| model | split seed | trials × inner folds | configured | decision | decision − configured | winner taken "
        "| always the winner | winner − configured | target met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in entries.items():
        if "decision_mean" not in entry:
            continue
        model, where = name.split("/")
        budget = entry["budget"]
        lines.append(
            f"| {model} | {where[4:]} | {budget['trials']} × {budget['inner_folds']} "
            f"| {entry['configured_mean']:.3f} ± {entry['configured_std']:.3f} "
            f"| {entry['decision_mean']:.3f} ± {entry['decision_std']:.3f} | {entry['decision_minus_configured']:+.3f} "
            f"| {entry['winner_taken']} of {budget['outer_folds']} "
            f"| {entry['winner_mean']:.3f} ± {entry['winner_std']:.3f} | {entry['winner_minus_configured']:+.3f} "
            f"| {'yes' if entry['target_met'] else '**no**'} |"
        )
    missing = [name for name in every_entry() if name not in entries]
    if missing:
        lines += ["", f"Not run yet: {', '.join(missing)}."]
    listed = {name: entry for name, entry in entries.items() if name.endswith("fault-filtered")}
    if listed:
        lines += [
            "",
            "## The fault-filtered split",
            "",
            "A study on the training and validation lists (inner folds of both), the settings kept re-trained on",
            "both and tested once on the test list, beside the configured settings and the winner re-trained alike.",
            "",
            "| model | trials × inner folds | configured | decision | always the winner | kept |",
            "|---|---|---|---|---|---|",
        ]
        for name, entry in listed.items():
            (row,) = entry["rows"]
            budget = entry["budget"]
            lines.append(
                f"| {name.split('/')[0]} | {budget['trials']} × {budget['inner_folds']} "
                f"| {row['untuned_macro_f1']:.3f} | {row['tuned_macro_f1']:.3f} | {row['winner_macro_f1']:.3f} "
                f"| {row['kept']} |"
            )
    lines += ["", "## Per outer fold", ""]
    for name, entry in entries.items():
        if "decision_mean" in entry:
            lines += [f"### {name}", "", _fold_table(entry["rows"]), ""]
    return "\n".join(lines)


def _fold_table(rows: list[dict[str, Any]]) -> str:
    columns = ["fold", "untuned_macro_f1", "tuned_macro_f1", "winner_macro_f1", "kept", "inner_difference", "p_value"]
    table = pd.DataFrame(rows)[columns].rename(
        columns={"untuned_macro_f1": "configured", "tuned_macro_f1": "decision", "winner_macro_f1": "winner"}
    )
    return table.to_markdown(index=False, floatfmt=".3f")


if __name__ == "__main__":
    with log.to_console():
        main()
