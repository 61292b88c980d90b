"""Whether one model beats another on the same test tracks, or only seems to.

Two models' scores over the same folds are paired: each fold's difference cancels what made that fold
easy or hard. Their spread still understates the uncertainty, because the folds' training sets
overlap, so the t statistic over K folds uses Nadeau and Bengio's (2003) corrected variance,
``(1/K + n_test/n_train) s^2``, with K - 1 degrees of freedom. One split has no folds to pair:
there, the test tracks are resampled with replacement (the same resample for both models) and the
2.5th and 97.5th percentiles of the macro-F1 difference bound a 95% interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import f1_score

from multimodal_genre.data import GENRES
from multimodal_genre.report.sources import Entry, Group

RESAMPLES = 2000
SEED = 0


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


def corrected_t_test(differences: np.ndarray, test_to_train: float) -> tuple[float, float]:
    """Nadeau and Bengio's corrected resampled t statistic of per-fold ``differences`` and its
    two-sided p value; ``test_to_train`` is the ratio of test to training tracks in a fold."""
    folds = len(differences)
    variance = (1 / folds + test_to_train) * np.var(differences, ddof=1)
    if variance == 0:
        return (0.0, 1.0) if differences.mean() == 0 else (float(np.sign(differences.mean()) * np.inf), 0.0)
    t = float(differences.mean() / np.sqrt(variance))
    return t, float(2 * stats.t.sf(abs(t), folds - 1))


def bootstrap_interval(best: Entry, other: Entry) -> tuple[float, float, float]:
    """The 95% interval and the value of the macro-F1 difference of two models on one split's test
    tracks, from ``RESAMPLES`` paired resamples of the tracks (seeded: the same every time)."""
    truth, first = _labels(best)
    _, second = _labels(other, order=truth.index)
    generator = np.random.default_rng(SEED)
    draws = generator.integers(0, len(truth), size=(RESAMPLES, len(truth)))
    labels = list(range(len(GENRES)))
    y = truth.to_numpy()

    def macro_f1(predicted: np.ndarray, rows: np.ndarray) -> float:
        return f1_score(y[rows], predicted[rows], labels=labels, average="macro", zero_division=0)

    differences = [macro_f1(first, rows) - macro_f1(second, rows) for rows in draws]
    whole = np.arange(len(y))
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high), macro_f1(first, whole) - macro_f1(second, whole)


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
