"""The figures of runs and reports: confusion matrices, learning curves and per-genre F1 across models.

Figures use Matplotlib's object API (no pyplot state, no display needed), genre names on the axes
and one colour per model, the same in every chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from multimodal_genre.data import GENRES
from multimodal_genre.families import FAMILIES, family

# A model whose family names no colour (``Family.shades``) takes the first of these no model has yet.
SPARE_COLORS = ("#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#843c39")
OTHER_COLOR = "#7f7f7f"


def model_shades(model: str) -> tuple[str, ...]:
    """The colour of ``model`` in every chart, then shades of it for further runs (its family's);
    () for a model the registry does not know or whose family names none."""
    return family(model).shades if model in FAMILIES else ()


def plot_confusion(path: Path, counts: np.ndarray, title: str, shown: tuple[str, ...] = ("counts", "shares")) -> None:
    """Counts and row-normalised shares (each true genre's tracks, predicted as each genre), side by
    side or the ``shown`` one alone: rows are true genres."""
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    choices = {"counts": (counts, "d", "counts"), "shares": (shares, ".2f", "share of each true genre")}
    panels = [choices[name] for name in shown]
    figure = Figure(figsize=(7.5 * len(panels), 6.5), layout="constrained")
    for axes, (matrix, fmt, name) in zip(np.atleast_1d(figure.subplots(1, len(panels))), panels, strict=True):
        ConfusionMatrixDisplay(matrix, display_labels=list(GENRES)).plot(
            ax=axes, cmap="Blues", values_format=fmt, xticks_rotation=45, colorbar=False
        )
        axes.set_title(f"{title}: {name}")
    figure.savefig(path, dpi=100)


def plot_learning_curves(
    path: Path, histories: Sequence[tuple[pd.DataFrame, int]], title: str, color: str | None = None
) -> None:
    """Loss (and accuracy, for networks) per epoch or boosting round (the history's first column),
    training dashed and validation solid, for each ``(history, kept epoch)``: one for a run, one per
    fold for cross-validation, one per member of a bag. A model trained without a validation side has
    no validation curve."""
    unit = histories[0][0].columns[0]
    panels = [name for name in ("loss", "accuracy") if name in histories[0][0]]
    figure = Figure(figsize=(6 * len(panels), 4.5), layout="constrained")
    for axes, metric in zip(np.atleast_1d(figure.subplots(1, len(panels))), panels, strict=True):
        for index, (history, kept) in enumerate(histories):
            first = index == 0
            axes.plot(history[unit], history[metric], "--", color=color or "C0", label="training" if first else None)
            watched = f"val_{metric}" if f"val_{metric}" in history else metric
            if watched != metric:
                axes.plot(history[unit], history[watched], color=color or "C1", label="validation" if first else None)
            if len(histories) == 1:
                axes.axvline(kept, color="black", linestyle=":", label=f"kept: {unit} {kept}")
            else:
                at_kept = history.loc[history[unit] == kept, watched]
                axes.plot([kept] * len(at_kept), at_kept, "o", color="black", label=f"kept {unit}" if first else None)
        axes.set_xlabel(unit)
        axes.set_ylabel("log loss" if metric == "loss" else metric)
        axes.set_title(f"{title}: {metric}" + (f", {len(histories)} trainings" if len(histories) > 1 else ""))
        axes.legend()
    figure.savefig(path, dpi=100)


def plot_per_genre_f1(
    path: Path,
    means: pd.DataFrame,
    stds: pd.DataFrame | None,
    title: str,
    colors: Mapping[str, str] | None = None,
) -> Figure:
    """Grouped bars: genres along the axis, one bar per model (columns of ``means``), with error
    bars of one standard deviation where ``stds`` is given. The legend sits below the axes, four
    models a row, so that many models never squeeze the bars. ``colors`` by column (default: each
    model's own)."""
    legend_columns = min(len(means.columns), 4)
    legend_rows = math.ceil(len(means.columns) / legend_columns)
    figure = Figure(figsize=(13, 4.6 + 0.3 * legend_rows), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(means.index))
    width = 0.8 / len(means.columns)
    for offset, model in enumerate(means.columns):
        axes.bar(
            positions + (offset - (len(means.columns) - 1) / 2) * width,
            means[model],
            width,
            yerr=None if stds is None else stds[model],
            capsize=2,
            label=model,
            color=(colors or {}).get(model) or (model_shades(model) or (OTHER_COLOR,))[0],
        )
    axes.set_xticks(positions, list(means.index))
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("F1")
    axes.set_title(title)
    figure.legend(ncols=legend_columns, loc="outside lower center")
    axes.grid(axis="y", alpha=0.3)
    figure.savefig(path, dpi=100)
    return figure
