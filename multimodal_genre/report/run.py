"""A model run's own report: scikit-learn's per-genre classification report as
``classification_report.{csv,json,md}``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from multimodal_genre.data import GENRES
from multimodal_genre.files import write_csv, write_json, write_text

ROWS = (*GENRES, "macro avg", "weighted avg")


def write_classification_report(directory: Path, report: Mapping, title: str) -> pd.DataFrame:
    """``report`` (``evaluation.per_genre_report``) as CSV, JSON and Markdown titled ``title``; returns the table."""
    table = pd.DataFrame(
        [{key: report[row][key] for key in ("precision", "recall", "f1-score", "support")} for row in ROWS],
        index=pd.Index(ROWS, name="genre"),
    )
    table["support"] = table["support"].astype(int)
    write_csv(directory / "classification_report.csv", table)
    write_json(directory / "classification_report.json", report)
    write_text(
        directory / "classification_report.md",
        f"# {title}\n\n{table.to_markdown(floatfmt='.3f')}\n\nAccuracy: {report['accuracy']:.3f}\n",
    )
    return table
