"""How far a score, or a difference of two, stands above its noise.

Two models scored on the same folds are paired: each fold's difference cancels what made that fold
easy or hard. The folds' training sets overlap, so their spread understates the uncertainty; the
t statistic over K folds uses Nadeau and Bengio's (2003) corrected variance,
``(1/K + n_test/n_train) s^2``, with K - 1 degrees of freedom. One split has no folds to pair: there
its tracks are resampled with replacement (the same resample for both models), the bootstrap.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from multimodal_genre.data import GENRES

RESAMPLES = 2000
SEED = 0


def corrected_t_test(differences: np.ndarray, test_to_train: float) -> tuple[float, float]:
    """Nadeau and Bengio's corrected resampled t statistic of per-fold ``differences`` and its
    two-sided p value; ``test_to_train`` is the ratio of test to training tracks in a fold."""
    differences = np.asarray(differences, dtype=float)
    scale = _corrected_scale(differences, test_to_train)
    if scale == 0:
        return (0.0, 1.0) if differences.mean() == 0 else (float(np.sign(differences.mean()) * np.inf), 0.0)
    t = float(differences.mean() / scale)
    return t, float(2 * stats.t.sf(abs(t), len(differences) - 1))


def corrected_interval(differences: np.ndarray, test_to_train: float, level: float) -> tuple[float, float]:
    """The interval around the mean of ``differences`` whose lower end is the one-sided ``1 - level``
    bound of the corrected t-test (so a difference is significant at ``level`` when the interval
    holds no 0 or less)."""
    differences = np.asarray(differences, dtype=float)
    half = stats.t.ppf(1 - level, len(differences) - 1) * _corrected_scale(differences, test_to_train)
    return float(differences.mean() - half), float(differences.mean() + half)


def _corrected_scale(differences: np.ndarray, test_to_train: float) -> float:
    return float(np.sqrt((1 / len(differences) + test_to_train) * np.var(differences, ddof=1)))


def macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-F1 over every genre (a genre neither present nor predicted counts 0, as scikit-learn's
    ``zero_division=0``)."""
    return float(resampled_macro_f1(labels, predicted, np.arange(len(labels))[None, :])[0])


def resampled_macro_f1(labels: np.ndarray, predicted: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Macro-F1 of each resample, a row of ``draws`` (track positions), counted in one pass."""
    genres = len(GENRES)
    codes = np.asarray(labels) * genres + np.asarray(predicted)
    offsets = np.arange(len(draws))[:, None] * genres * genres
    counts = np.bincount((codes[draws] + offsets).ravel(), minlength=len(draws) * genres * genres)
    counts = counts.reshape(len(draws), genres, genres)
    hits = np.diagonal(counts, axis1=1, axis2=2)
    denominator = counts.sum(axis=1) + counts.sum(axis=2)  # predicted + true, per genre
    f1 = np.divide(2 * hits, denominator, out=np.zeros(hits.shape), where=denominator > 0)
    return f1.mean(axis=1)


def bootstrap_draws(tracks: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """``resamples`` draws of ``tracks`` positions with replacement (seeded: the same every time)."""
    return np.random.default_rng(seed).integers(0, tracks, size=(resamples, tracks))


def paired_bootstrap(labels: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The macro-F1 of ``first``'s predictions minus ``second``'s in each paired resample of the tracks."""
    draws = bootstrap_draws(len(labels))
    return resampled_macro_f1(labels, first, draws) - resampled_macro_f1(labels, second, draws)


def score_interval(labels: np.ndarray, predicted: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The bootstrap interval of one model's macro-F1 on its test tracks (percentiles, ``level`` coverage)."""
    resampled = resampled_macro_f1(labels, predicted, bootstrap_draws(len(labels)))
    low, high = np.percentile(resampled, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)
