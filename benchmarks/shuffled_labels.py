"""A study on labels shuffled at random: whatever validation macro-F1 it reports is leakage.

With the genres permuted across tracks there is nothing to learn, so an honest objective sits at
chance (about 0.1 for ten genres) whatever the settings. A study whose objective scores rows its
models trained on reports more. Runs a short study of one model, as configured by ``--config``
(e.g. a fold-bagged MLP), on GTZAN with shuffled labels, and writes each trial's validation
macro-F1 and the test macro-F1 of the re-trained best settings to ``--out`` (JSON):

    python benchmarks/shuffled_labels.py --data ../shared/gtzan --model mlp --trials 8 \\
        --config benchmarks/shuffled_labels.yaml --out reports/benchmarks/shuffled_labels.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import optuna
from common import add_data_option, parse_with_data, quiet_dataset

from multimodal_genre import __version__
from multimodal_genre.config import load_config
from multimodal_genre.records import portable_command
from multimodal_genre.search import load_search
from multimodal_genre.tuning import default_storage, tune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--model", required=True)
    parser.add_argument("--config", type=Path, help="changes to configs/default.yaml")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="seed of the label permutation")
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the figures")
    args = parse_with_data(parser)

    config = load_config(args.config)
    dataset = quiet_dataset(args.data, config.data)
    shuffled = dataclasses.replace(dataset, labels=np.random.default_rng(args.seed).permutation(dataset.labels))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="shuffled-labels-") as scratch:
        result = tune(args.model, shuffled, config, load_search(config), trials=args.trials, out=Path(scratch))
        study = optuna.load_study(study_name=result.study_name, storage=default_storage(Path(scratch)))
        values = [trial.value for trial in study.trials if trial.value is not None]
    figures = {
        "command": portable_command(["python", *sys.argv]),
        "version": __version__,
        "model": args.model,
        "trials_validation_macro_f1": [round(value, 4) for value in values],
        "best_validation_macro_f1": round(result.best_value, 4),
        "test_macro_f1": round(result.test_scores["macro_f1"], 4),
        "chance": 0.1,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
