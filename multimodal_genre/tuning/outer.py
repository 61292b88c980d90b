"""Whether tuning gains, measured as a comparison measures: a study in each outer grouped fold, the
settings its decision kept tested on the fold's test side beside the configured settings and the
winner, each re-trained on the same rows in the same way, so that the difference measures tuning alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from multimodal_genre.data import kfold_splits
from multimodal_genre.errors import ConfigError
from multimodal_genre.tuning.reports import write_outer_summary
from multimodal_genre.tuning.study import Tuning, TuningResult


def tune_outer_folds(study: Tuning, name: str, out: Path) -> pd.DataFrame:
    """``study`` run on each of ``study.options.outer_folds`` grouped folds (the folds ``compare
    --folds`` uses); writes ``outer_folds.{csv,md}`` under ``out/name`` and returns the table: per
    fold the test macro-F1 of the settings the decision kept (``tuned_macro_f1``), of the configured
    settings (``untuned_macro_f1``) and of the winner, and the inner comparison behind the decision."""
    config, dataset = study.prepared.config, study.prepared.dataset
    if config.split.lists is not None:
        raise ConfigError(f"--outer-folds: split.lists ({config.split.lists}) gives one split, which has no folds")
    folds = kfold_splits(
        dataset.labels, dataset.groups, dataclasses.replace(config.split, folds=study.options.outer_folds)
    )
    rows = []
    for index, split in enumerate(folds, start=1):
        result = study.run(f"{name}-outer{index}", split, out / name / f"outer{index}", (index, len(folds)), both=True)
        rows.append({"fold": index, **_row(result)})
    table = pd.DataFrame(rows)
    final = (
        "the best trial's settings"
        if study.search.final.top_k == 1
        else f"the {study.search.final.top_k} best trials' settings, averaged"
    )
    write_outer_summary(table, f"Study '{name}' of {study.model}", final, study.provenance.command, out / name)
    return table


def _row(result: TuningResult) -> dict[str, float | int | str]:
    decision = result.decision
    return {
        "tuned_macro_f1": result.test_scores["macro_f1"],
        "untuned_macro_f1": result.default_test,
        "winner_macro_f1": result.winner_test,
        "kept": decision.kept,
        "inner_configured": decision.default_score,
        "inner_winner": decision.winner_score,
        "inner_difference": decision.difference,
        "inner_low": decision.low,
        "inner_high": decision.high,
        "p_value": decision.p_value,
        "winner_trial": decision.winner_trial,
        "trials": result.counts["complete"],
    }
