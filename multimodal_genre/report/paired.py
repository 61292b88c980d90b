"""Whether one model beats another on the same test tracks, or only seems to: the paired
comparisons of ``statistics.py`` (a corrected t-test over folds, a paired bootstrap over one
split's tracks), as the report's table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multimodal_genre.data import GENRES
from multimodal_genre.report.sources import Entry, Group
from multimodal_genre.statistics import corrected_t_test, macro_f1, paired_bootstrap


def paired_table(group: Group) -> pd.DataFrame | None:
    """Each model against the group's best (its first entry): per-fold differences in macro-F1 and
    the corrected t-test, or for one split the bootstrap interval; None for a group of one model."""
    best, *others = group.entries
    if not others:
        return None
    rows = {f"{best.label} - {other.label}": _against(best, other) for other in others}
    table = pd.DataFrame(rows).T
    table.index.name = "difference"
    return table


def _against(best: Entry, other: Entry) -> dict[str, str]:
    if best.folds is None:
        low, high, difference = bootstrap_interval(best, other)
        return {"macro-F1 difference": f"{difference:+.3f}", "95% bootstrap interval": f"{low:+.3f} to {high:+.3f}"}
    differences = _fold_scores(best) - _fold_scores(other)
    split = best.results[0].record.split
    t, p = corrected_t_test(differences, split.test / (split.train + split.validation))
    return {
        "per fold": " ".join(f"{value:+.3f}" for value in differences),
        "mean": f"{differences.mean():+.3f}",
        "corrected t": f"{t:.2f}",
        "p (two-sided)": f"{p:.3f}",
    }


def bootstrap_interval(best: Entry, other: Entry) -> tuple[float, float, float]:
    """The 95% interval and the value of the macro-F1 difference of two models on one split's test
    tracks, from ``RESAMPLES`` paired resamples of the tracks (seeded: the same every time)."""
    truth, first = _labels(best)
    _, second = _labels(other, order=truth.index)
    y = truth.to_numpy()
    differences = paired_bootstrap(y, first, second)
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high), macro_f1(y, first) - macro_f1(y, second)


def _fold_scores(entry: Entry) -> np.ndarray:
    """Macro-F1 per fold, folds in the order of their test tracks (so two entries' folds pair)."""
    ordered = sorted(entry.results, key=lambda result: min(result.test_tracks))
    return np.array([result.metrics["macro_f1"] for result in ordered])


def _labels(entry: Entry, order: pd.Index | None = None) -> tuple[pd.Series, np.ndarray]:
    """The true genre codes of an entry's test tracks and its predicted codes, by track."""
    table = pd.concat([result.predictions for result in entry.results])
    if order is not None:
        table = table.loc[order]
    codes = {genre: code for code, genre in enumerate(GENRES)}
    return table["true_genre"].map(codes), table["predicted_genre"].map(codes).to_numpy()
