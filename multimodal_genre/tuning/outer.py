"""Whether tuning gains, measured as a comparison measures: a study in each outer grouped fold, its
final model tested on the fold's test side beside the untuned model trained on the same rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from multimodal_genre.data import kfold_splits
from multimodal_genre.errors import ConfigError
from multimodal_genre.report.study import write_outer_summary
from multimodal_genre.training import RunContext, run_model
from multimodal_genre.tuning.study import Study


def tune_outer_folds(study: Study, name: str, out: Path) -> pd.DataFrame:
    """``study`` run on each of ``study.options.outer_folds`` grouped folds (the folds ``compare
    --folds`` uses), its final model tested on the fold's test side beside the untuned model trained
    on the same rows; writes ``outer_folds.{csv,md}`` under ``out/name`` and returns the table."""
    config, dataset = study.config, study.dataset
    if config.split.lists is not None:
        raise ConfigError(f"--outer-folds: split.lists ({config.split.lists}) gives one split, which has no folds")
    folds = kfold_splits(
        dataset.labels, dataset.groups, dataclasses.replace(config.split, folds=study.options.outer_folds)
    )
    rows = []
    for index, split in enumerate(folds, start=1):
        directory = out / name / f"outer{index}"
        fold = (index, len(folds))
        result = study.run(f"{name}-outer{index}", split, directory, fold)
        untuned = run_model(
            study.model, dataset, config, split, directory / "untuned", RunContext(fold, study.command, study.recipe)
        )
        rows.append(
            {
                "fold": index,
                "tuned_macro_f1": result.test_scores["macro_f1"],
                "untuned_macro_f1": untuned["macro_f1"],
                "best_validation_macro_f1": result.best_value,
                "trials": result.counts["complete"],
            }
        )
    table = pd.DataFrame(rows)
    final = (
        "the best trial's settings"
        if study.search.final.top_k == 1
        else (f"the {study.search.final.top_k} best trials' settings, averaged")
    )
    write_outer_summary(table, f"Study '{name}' of {study.model}", final, study.command, out / name)
    return table
