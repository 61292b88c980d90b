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
from common import add_data_option, parse_with_data, provenance, quiet_dataset, write_json

from multimodal_genre import log
from multimodal_genre.config import load_config
from multimodal_genre.families import BaggingConfig, family
from multimodal_genre.search import load_search
from multimodal_genre.tuning import default_storage, tune
from multimodal_genre.views import with_sources
from multimodal_genre.workers import Workers

MEMBERS = 5
CHANCE = 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--trials", type=int, default=3, help="trials of each study")
    parser.add_argument("--seed", type=int, default=0, help="seed of the genres' permutation")
    parser.add_argument("--jobs", type=int, default=1, help="trials side by side")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parse_with_data(parser)

    config = load_config()
    dataset = quiet_dataset(args.data, config.data)
    shuffled = dataclasses.replace(dataset, labels=np.random.default_rng(args.seed).permutation(dataset.labels))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results: dict[str, Any] = {**provenance(), "what": " ".join(__doc__.split("\n\n")[1].split()), "chance": CHANCE}
    results["models"] = {}
    for model in (name for name in config.models if not family(name).built_from_runs):
        bagged = with_sources(config.with_bagging(model, BaggingConfig(MEMBERS, "folds")), shuffled)
        results["models"][model] = _study(model, shuffled, bagged, args)
        write_json(args.out / "shuffled_labels.json", results)
    (args.out / "shuffled_labels.md").write_text(markdown(results))
    print((args.out / "shuffled_labels.md").read_text())


def _study(model: str, dataset: Any, config: Any, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="shuffled-labels-") as scratch, Workers(args.jobs) as workers:
        result = tune(
            model, dataset, config, load_search(config), trials=args.trials, out=Path(scratch), workers=workers
        )
        study = optuna.load_study(study_name=result.study_name, storage=default_storage(Path(scratch)))
        values = [trial.value for trial in study.trials if trial.value is not None]
    return {
        "trials_held_out_macro_f1": [round(value, 4) for value in values],
        "best_held_out_macro_f1": round(max(values), 4),
        "test_macro_f1": round(result.test_scores["macro_f1"], 4),
    }


def markdown(results: dict[str, Any]) -> str:
    rows = [
        f"| {model} | {', '.join(f'{value:.3f}' for value in found['trials_held_out_macro_f1'])} "
        f"| {found['best_held_out_macro_f1']:.3f} | {found['test_macro_f1']:.3f} |"
        for model, found in results["models"].items()
    ]
    return "\n".join(
        [
            "<!-- figures: shuffled_labels.json -->",
            "# Benchmark: studies on shuffled genres",
            "",
            results["what"],
            "",
            f"`{results['command']}`, {results['date']}, commit {results['commit']}, {results['processor']}.",
            f"Chance: {results['chance']:.2f} macro-F1.",
            "",
            "| model (fold bag of five) | each trial's held-out macro-F1 | best | test macro-F1 of the settings kept |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )


if __name__ == "__main__":
    with log.to_console():
        main()
