"""The report's figures, drawn again from the run folders' tables so that every chart gives an
entry the same colour: the model's colour, a shade of it for a second run of the same model."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from multimodal_genre.data import GENRES
from multimodal_genre.plots import (
    OTHER_COLOR,
    SPARE_COLORS,
    model_shades,
    plot_confusion,
    plot_learning_curves,
    plot_per_genre_f1,
)
from multimodal_genre.report.calibration import reliability
from multimodal_genre.report.sources import Entry, Group, Source

FEWEST_IN_BIN = 5  # tracks in a bin of the reliability chart


def entry_colors(entries: Sequence[Entry]) -> dict[str, str]:
    """A colour per entry label, fixed for the whole report: the model's colour, then shades of it;
    a model the package does not know takes a spare colour of its own."""
    colors: dict[str, str] = {}
    used: dict[str, int] = {}
    spare = iter(SPARE_COLORS)
    others: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        if entry.label in colors:
            continue
        if not model_shades(entry.model) and entry.model not in others:
            others[entry.model] = (next(spare, OTHER_COLOR),)
        shades = model_shades(entry.model) or others[entry.model]
        colors[entry.label] = shades[used.get(entry.model, 0) % len(shades)]
        used[entry.model] = used.get(entry.model, 0) + 1
    return colors


def group_figures(group: Group, number: int, colors: dict[str, str], folder: Path) -> dict[str, Path]:
    """The scores chart (for two models or more: one model's is a single bar), the per-genre F1 chart
    and the reliability diagram of one group."""
    labels = [entry.label for entry in group.entries]
    cross_validated = group.entries[0].folds is not None
    means = {entry.label: entry.f1_table().mean(axis=1) for entry in group.entries}
    stds = {entry.label: entry.f1_table().std(axis=1, ddof=1) for entry in group.entries}
    paths = {"per_genre_f1": folder / f"group{number}-per_genre_f1.png"}
    if len(labels) > 1:
        paths["scores"] = folder / f"group{number}-macro_f1.png"
        _plot_macro_f1(paths["scores"], group, colors)
    paths["reliability"] = reliability_figure(group, number, colors, folder)
    plot_per_genre_f1(
        paths["per_genre_f1"],
        _frame(means, labels),
        _frame(stds, labels) if cross_validated else None,
        "F1 per genre" + (" (mean and standard deviation over folds)" if cross_validated else ""),
        colors,
    )
    return paths


def entry_figures(entry: Entry, number: int, colors: dict[str, str], folder: Path) -> dict[str, Path]:
    """The confusion matrix (summed over folds) and the learning curves (one line per fold) of one entry."""
    stem = f"group{number}-{_slug(entry.label)}"
    paths = {"confusion": folder / f"{stem}-confusion.png", "learning_curves": folder / f"{stem}-learning_curves.png"}
    pooled = f", {entry.folds} folds summed" if entry.folds else ""
    plot_confusion(paths["confusion"], entry.confusion(), f"{entry.label}{pooled}", shown=("shares",))
    histories = [curve for result in entry.results for curve in result.curves()]
    plot_learning_curves(paths["learning_curves"], histories, entry.label, colors[entry.label])
    return paths


def reliability_figure(group: Group, number: int, colors: dict[str, str], folder: Path) -> Path:
    """Every entry's reliability diagram in one chart: accuracy against confidence per bin (each dot
    as large as its share of the tracks), the diagonal for a calibrated model, and each entry's
    calibration error in the legend."""
    path = folder / f"group{number}-reliability.png"
    figure = Figure(figsize=(6.5, 5.5), layout="constrained")
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], ":", color="black", label="calibrated")
    for entry in group.entries:
        found = reliability(entry)
        label = f"{entry.label} (calibration error {found.error:.3f})"
        kept = found.tracks >= FEWEST_IN_BIN  # a bin of two tracks says little: left off the chart, not the error
        axes.plot(found.confidence[kept], found.accuracy[kept], "-", color=colors[entry.label], label=label)
        sizes = 600 * found.tracks[kept] / found.tracks.sum() + 10
        axes.scatter(found.confidence[kept], found.accuracy[kept], s=sizes, color=colors[entry.label], zorder=3)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence: probability of the predicted genre (mean per bin)")
    axes.set_ylabel("accuracy in the bin")
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    return path


def study_figures(source: Source, folder: Path) -> dict[str, Path]:
    """The study's own Optuna plots, copied beside the report."""
    paths = {}
    for name, path in source.study.plots.items():
        paths[name] = folder / f"study-{_slug(source.study.record.study)}-{name}.png"
        shutil.copyfile(path, paths[name])
    return paths


def _plot_macro_f1(path: Path, group: Group, colors: dict[str, str]) -> None:
    labels = [entry.label for entry in group.entries]
    scores = [entry.metric_table()["macro_f1"] for entry in group.entries]
    figure = Figure(figsize=(9, 0.55 * len(labels) + 1.2), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(labels))[::-1]
    spread = len(scores[0]) > 1
    axes.barh(
        positions,
        [score.mean() for score in scores],
        xerr=[score.std(ddof=1) for score in scores] if spread else None,
        color=[colors[label] for label in labels],
        capsize=3,
    )
    for position, score in zip(positions, scores, strict=True):
        text = f"{score.mean():.3f}" + (f" ± {score.std(ddof=1):.3f}" if spread else "")
        right = score.mean() + (score.std(ddof=1) if spread else 0)
        axes.text(right + 0.01, position, text, va="center")
    axes.set_yticks(positions, labels)
    axes.set_xlim(0, 1)
    axes.set_xlabel("test macro-F1" + (" (mean ± standard deviation over folds)" if spread else ""))
    axes.grid(axis="x", alpha=0.3)
    figure.savefig(path, dpi=100)


def _frame(columns: dict[str, pd.Series], labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame({label: columns[label].to_numpy() for label in labels}, index=list(GENRES))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
