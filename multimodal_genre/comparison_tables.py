"""A comparison's own tables: ``comparison.{md,csv}``, ``per_genre_f1.{csv,png}`` and, for K-fold,
``folds.csv``, made from the test scores of its model runs."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from multimodal_genre.data import GENRES, GenreDataset
from multimodal_genre.evaluation import METRICS
from multimodal_genre.families import family
from multimodal_genre.files import write_csv
from multimodal_genre.pages import Block, Heading, Image, Items, Paragraph, Table, write_markdown
from multimodal_genre.plots import plot_per_genre_f1

GENRE_COLUMNS = [f"f1_{genre}" for genre in GENRES]


@dataclasses.dataclass(frozen=True)
class ComparisonResult:
    """What a comparison gives back and reports."""

    directory: Path
    scores: pd.DataFrame  # one row per (fold, model) of the models that trained in every fold
    seconds: float
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # "mlp, fold 2/5" -> why it failed


def write_comparison_tables(
    result: ComparisonResult,
    folds: int | None,
    dataset: GenreDataset,
    command: str | None,
    lists: str | None = None,
    test_tracks: int = 0,
) -> tuple[str, ...]:
    """Write the comparison's tables, Markdown and figure into its folder; return its models, in order.
    ``lists`` names a listed split, whose ``test_tracks`` the title gives."""
    kind = split_words(folds, lists, test_tracks)
    spread = " (mean ± standard deviation over folds)" if folds else ""
    blocks: list[Block] = [
        Heading(1, f"Model comparison: {kind}"),
        *([Paragraph("**SYNTHETIC DATA: these figures say nothing about real music.**")] if dataset.synthetic else []),
        Paragraph(f"Dataset `{dataset.root}`: {len(dataset)} tracks, fingerprint {dataset.fingerprint}."),
        Paragraph(f"Test figures{spread}; wall time {result.seconds:.0f} s."),
        *([Paragraph(f"Command: `{command}`")] if command else []),
    ]
    models: tuple[str, ...] = ()
    if len(result.scores):
        what = "synthetic data" if dataset.synthetic else f"{dataset.root.name} ({len(dataset)} tracks)"
        overall, per_genre, means = _write_tables(result, folds, f"Per-genre F1, {kind}, {what}")
        models = tuple(means.index)
        blocks += [
            Table(overall),
            *([Paragraph(gain[0].upper() + gain[1:] + ".")] if (gain := _fusion_gain(means)) else []),
            Heading(2, "F1 per genre"),
            Table(per_genre),
            Image(result.directory / "per_genre_f1.png", "Per-genre F1"),
        ]
    if result.failed:
        blocks += [
            Heading(2, "Failed trainings"),
            Paragraph("These models are left out of the tables above; their other folds' run folders stay."),
            Items([f"{where}: {why}" for where, why in result.failed.items()]),
        ]
    write_markdown(result.directory / "comparison.md", blocks)
    return models


def _write_tables(
    result: ComparisonResult, folds: int | None, title: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """comparison.csv, per_genre_f1.{csv,png} (the chart titled ``title``) and, for K-fold, folds.csv;
    returns the two tables as text (means, ± standard deviations over folds) and the mean metrics."""
    out, table = result.directory, result.scores
    grouped = table.groupby("model", sort=False)
    means = grouped[list(METRICS)].mean().sort_values("macro_f1", ascending=False, kind="stable")
    models = list(means.index)  # best first
    genre_means = grouped[GENRE_COLUMNS].mean().loc[models].T.set_axis(list(GENRES))
    if folds is None:
        write_csv(out / "comparison.csv", means)
        write_csv(out / "per_genre_f1.csv", genre_means, index_label="genre")
        overall, per_genre, genre_stds = means.map(_three), genre_means.map(_three), None
    else:
        write_csv(out / "folds.csv", table, index=False)
        stds = grouped[list(METRICS)].std(ddof=1).loc[models]
        genre_stds = grouped[GENRE_COLUMNS].std(ddof=1).loc[models].T.set_axis(list(GENRES))
        write_csv(out / "comparison.csv", pd.concat([means.add_suffix("_mean"), stds.add_suffix("_std")], axis=1))
        genre_table = pd.concat([genre_means.add_suffix("_mean"), genre_stds.add_suffix("_std")], axis=1)
        write_csv(out / "per_genre_f1.csv", genre_table, index_label="genre")
        overall, per_genre = _with_spread(means, stds), _with_spread(genre_means, genre_stds)
    plot_per_genre_f1(out / "per_genre_f1.png", genre_means, genre_stds, title)
    return overall, per_genre, means


def split_words(folds: int | None, lists: str | None, test_tracks: int) -> str:
    """What a comparison was tested on, for its title: folds, a listed split and its test size, or
    the hold-out split."""
    if folds is not None:
        return f"grouped stratified {folds}-fold cross-validation"
    if lists is not None:
        return f"{lists} lists, {test_tracks} test tracks"
    return "hold-out split"


def summary_lines(result: ComparisonResult, folds: int | None, lists: str | None = None) -> list[str]:
    """The comparison for a terminal, within 80 columns: each model's test macro-F1 and accuracy,
    best first, and what fusion gained; comparison.md holds the full tables. ``lists`` names a
    listed split (``--split``)."""
    if not len(result.scores):
        return []
    grouped = result.scores.groupby("model", sort=False)
    means = grouped[["macro_f1", "accuracy"]].mean().sort_values("macro_f1", ascending=False, kind="stable")
    stds = grouped["macro_f1"].std(ddof=1)
    spread = f"mean ± std over {folds} folds" if folds else f"the test list of {lists}" if lists else "hold-out split"
    lines = [f"Test macro-F1 ({spread}), best first:"]
    for model, row in means.iterrows():
        score = f"{row['macro_f1']:.3f}" + (f" ± {stds[model]:.3f}" if folds else "")
        lines.append(f"  {model:<12} {score:<15} accuracy {row['accuracy']:.3f}")
    gain = fusion_gain(means["macro_f1"].to_dict(), {name: name for name in means.index})
    return lines + ([textwrap.fill(gain[0].upper() + gain[1:] + ".", 80)] if gain else [])


def _three(value: float) -> str:
    return f"{value:.3f}"


def _with_spread(means: pd.DataFrame, stds: pd.DataFrame) -> pd.DataFrame:
    return means.map(_three) + " ± " + stds.map(_three)


def _fusion_gain(means: pd.DataFrame) -> str:
    return fusion_gain(means["macro_f1"].to_dict(), {name: name for name in means.index})


def fusion_gain(scores: Mapping[str, float], models: Mapping[str, str]) -> str:
    """How much the best model that reads several views beats the best that reads one (macro-F1),
    in words; ``""`` when the results lack either kind. ``scores`` and ``models`` are keyed by label."""
    views = {label: len(family(model).views) for label, model in models.items()}
    fused = [label for label, count in views.items() if count > 1]
    singles = [label for label, count in views.items() if count == 1]
    if not fused or not singles:
        return ""
    table = pd.Series(scores)
    best_fused, best_single = table[fused].idxmax(), table[singles].idxmax()
    gain = table[best_fused] - table[best_single]
    return f"fusion ({best_fused}) {gain:+.3f} macro-F1 over the best single view ({best_single})"
