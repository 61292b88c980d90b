"""Studies on genres shuffled at random: whatever a trial scores above chance is leakage.

With the genres permuted across tracks there is nothing to learn, so an honest held-out score sits
at chance (about 0.1 for ten genres) whatever the settings. A study whose trials were scored on rows
their models trained or stopped early on would report more. For every family that can be bagged,
its default model as a fold bag of five (each member's out-of-fold predictions, of the fold it neither
trained nor stopped on, are what a trial is scored on), a short study on GTZAN with the genres
shuffled; the trials' held-out macro-F1 and the test macro-F1 of the settings kept go to
reports/benchmarks/shuffled_labels.{json,md}:

    python benchmarks/shuffled_labels.py --data ../shared/gtzan --jobs 2
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from common import add_data_option, parse_with_data, provenance, quiet_dataset, read_json, write_json

from multimodal_genre import log
from multimodal_genre.config import load_config
from multimodal_genre.families import BaggingConfig, family
from multimodal_genre.search import load_search
from multimodal_genre.tuning import StudyOptions, default_storage, tune
from multimodal_genre.views import with_sources
from multimodal_genre.workers import Workers

MEMBERS = 5
CHANCE = 0.1
COMMAND = "python benchmarks/shuffled_labels.py --data ../shared/gtzan --jobs 2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--only", nargs="+", metavar="MODEL", help="these models alone (the others kept as they are)")
    parser.add_argument("--trials", type=int, default=3, help="trials of each study")
    parser.add_argument("--seed", type=int, default=0, help="seed of the genres' permutation")
    parser.add_argument("--jobs", type=int, default=1, help="trials side by side")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parse_with_data(parser)

    config = load_config()
    baggable = [name for name in config.models if not family(name).built_from_runs]
    unknown = sorted(set(args.only or []) - set(baggable))
    if unknown:
        parser.error(f"not a model that can be bagged: {', '.join(unknown)} (those: {', '.join(baggable)})")
    dataset = quiet_dataset(args.data, config.data)
    shuffled = dataclasses.replace(dataset, labels=np.random.default_rng(args.seed).permutation(dataset.labels))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = args.out / "shuffled_labels.json"
    results = read_json(path)
    results.update(what=" ".join(__doc__.split("\n\n")[1].split()), command=COMMAND, chance=CHANCE)
    results.setdefault("entries", {})
    for model in args.only or baggable:
        plan = BaggingConfig(MEMBERS, "folds")
        bagged = with_sources(dataclasses.replace(config, bagging={**config.bagging, model: plan}), shuffled)
        results["entries"][model] = {**provenance(), "trials": args.trials, **_study(model, shuffled, bagged, args)}
        write_json(path, results)
    missing = [model for model in baggable if model not in results["entries"]]
    (args.out / "shuffled_labels.md").write_text(markdown(results, missing))
    print((args.out / "shuffled_labels.md").read_text())


def _study(model: str, dataset: Any, config: Any, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="shuffled-labels-") as scratch, Workers(args.jobs) as workers:
        result = tune(
            model,
            dataset,
            config,
            load_search(config),
            StudyOptions(trials=args.trials),
            out=Path(scratch),
            workers=workers,
        )
        study = optuna.load_study(study_name=result.study_name, storage=default_storage(Path(scratch)))
        values = [trial.value for trial in study.trials if trial.value is not None]
    return {
        "trials_held_out_macro_f1": [round(value, 4) for value in values],
        "best_held_out_macro_f1": round(max(values), 4),
        "test_macro_f1": round(result.test_scores["macro_f1"], 4),
    }


def markdown(results: dict[str, Any], missing: list[str]) -> str:
    rows = [
        f"| {model} | {', '.join(f'{value:.3f}' for value in found['trials_held_out_macro_f1'])} "
        f"| {found['best_held_out_macro_f1']:.3f} | {found['test_macro_f1']:.3f} | {found['date'][:10]}, "
        f"{found['commit']} |"
        for model, found in results["entries"].items()
    ]
    return "\n".join(
        [
            "<!-- figures: shuffled_labels.json -->",
            "# Benchmark: studies on shuffled genres",
            "",
            results["what"],
            "",
            f"Command: `{results['command']}` (an entry per model, `--only MODEL` to run some); each entry names",
            f"its processor in shuffled_labels.json. Chance: {results['chance']:.2f} macro-F1.",
            "",
            "| model (fold bag of five) | each trial's held-out macro-F1 | best | test macro-F1 of the settings kept "
            "| measured |",
            "|---|---|---|---|---|",
            *rows,
            "",
            *([f"Not run yet: {', '.join(missing)}.", ""] if missing else []),
        ]
    )


if __name__ == "__main__":
    with log.to_console():
        main()
