"""Whether a study's winner replaces the default settings: only when it beats them by more than the
inner folds' noise.

The winner of a study is the trial with the highest mean over the inner folds: with many trials, some
win by luck of those folds, and score below the default on tracks the study never saw. So the
winner and the default (the study's first trial, scored on the same folds) are compared fold by fold,
and the rule in the search file decides:

- ``corrected_t``: the mean of the per-fold differences passes Nadeau and Bengio's corrected
  resampled t-test, one-sided at ``level``;
- ``one_se``: it exceeds one standard error of the differences (the one-standard-error rule);
- ``always``: the winner, whatever its margin.

One validation split has no folds to pair: there the validation tracks are resampled with
replacement (a paired bootstrap), and the share of resamples where the winner does no better
stands for the p value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from multimodal_genre.records import DecisionRecord
from multimodal_genre.search import DecisionConfig
from multimodal_genre.statistics import corrected_interval, corrected_t_test, paired_bootstrap


@dataclasses.dataclass(frozen=True)
class Scored:
    """A trial's held-out scores, one per inner fold; with one fold, its predictions of the fold's
    tracks and their true genres, for the bootstrap."""

    trial: int
    folds: tuple[float, ...]
    test_to_train: float  # held-out tracks per training track in a fold
    labels: tuple[int, ...] = ()
    predicted: tuple[int, ...] = ()

    @property
    def mean(self) -> float:
        return float(np.mean(self.folds))


def decide(default: Scored, winner: Scored, config: DecisionConfig) -> DecisionRecord:
    """Compare ``winner`` with ``default`` on the same folds and apply ``config``'s rule."""
    if len(default.folds) != len(winner.folds):
        raise ValueError(f"trials {default.trial} and {winner.trial} were scored on different folds")
    if len(default.folds) == 1:
        difference, low, high, p_value, standard_error, method = _bootstrapped(default, winner, config.level)
    else:
        differences = np.subtract(winner.folds, default.folds)
        difference = float(differences.mean())
        low, high = corrected_interval(differences, winner.test_to_train, config.level)
        t, two_sided = corrected_t_test(differences, winner.test_to_train)
        p_value = two_sided / 2 if t > 0 else 1 - two_sided / 2
        standard_error = float(np.std(differences, ddof=1) / np.sqrt(len(differences)))
        method = f"corrected t-test over {len(differences)} inner folds"
    if not np.isfinite(low):  # no spread at all: the folds agree exactly
        low = high = difference
    same = winner.trial == default.trial
    passes = {
        "corrected_t": p_value < config.level,
        "one_se": difference > standard_error,
        "always": True,
    }[config.rule]
    return DecisionRecord(
        rule=config.rule,
        level=config.level,
        default_trial=default.trial,
        winner_trial=winner.trial,
        default_score=default.mean,
        winner_score=winner.mean,
        difference=difference,
        low=low,
        high=high,
        p_value=p_value,
        method=method,
        adopted=not same and difference > 0 and passes,
    )


def _bootstrapped(default: Scored, winner: Scored, level: float) -> tuple[float, float, float, float, float, str]:
    """The difference on one split, its interval, p value and standard error from paired resamples
    of its tracks."""
    labels = np.asarray(winner.labels)
    if not len(labels) or winner.labels != default.labels:
        raise ValueError("one validation split: both trials need their predictions of the same tracks")
    differences = paired_bootstrap(labels, np.asarray(winner.predicted), np.asarray(default.predicted))
    low, high = np.percentile(differences, [100 * level, 100 * (1 - level)])
    p_value = float(np.mean(differences <= 0))
    method = f"paired bootstrap over {len(labels)} validation tracks"
    return winner.folds[0] - default.folds[0], float(low), float(high), p_value, float(np.std(differences)), method


def scored(trial_number: int, attrs: dict, labels: Sequence[int] = ()) -> Scored:
    """A finished trial's held-out scores as the objective recorded them (``fold_macro_f1``,
    ``test_to_train``, and with one fold ``predicted``), ``labels`` the true genres of that fold."""
    predicted = tuple(attrs.get("predicted", ()))
    return Scored(
        trial=trial_number,
        folds=tuple(attrs["fold_macro_f1"]),
        test_to_train=float(attrs.get("test_to_train", 0.0)),
        labels=tuple(labels) if predicted else (),
        predicted=predicted,
    )
