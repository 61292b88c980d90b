"""Grouped stratified splits.

Every split keeps each duplicate group on one side (scikit-learn's StratifiedGroupKFold) and is
seeded, so a run can be repeated exactly. The CSV is sorted by genre, so nothing here ever takes
"the last rows" as a validation set.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from multimodal_genre.data.layout import GENRES
from multimodal_genre.data.settings import SplitConfig
from multimodal_genre.errors import DataError


@dataclasses.dataclass(frozen=True)
class Split:
    """Sorted row indices of one train / validation / test partition."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def holdout_split(labels: np.ndarray, groups: np.ndarray, config: SplitConfig) -> Split:
    """One grouped stratified train/validation/test split of sizes close to the configured fractions."""
    everything = np.arange(len(labels))
    rest, test = _hold_out_fold(labels, groups, everything, round(1 / config.test_fraction), config.seed)
    return _with_validation(labels, groups, rest, test, config)


def kfold_splits(labels: np.ndarray, groups: np.ndarray, config: SplitConfig) -> list[Split]:
    """``config.folds`` grouped stratified folds: each is the test side once, and each fold's
    remainder gives up a grouped validation part for early stopping."""
    everything = np.arange(len(labels))
    _check_enough_groups(labels, groups, config.folds)
    folds = StratifiedGroupKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
    return [
        _with_validation(labels, groups, rest, test, config) for rest, test in folds.split(everything, labels, groups)
    ]


def inner_splits(labels: np.ndarray, groups: np.ndarray, split: Split, folds: int, seed: int) -> list[Split]:
    """``folds`` grouped stratified folds of ``split``'s training and validation rows together: in the
    k-th, fold k is the validation side and the other folds the training side; the test side stays as it is.
    Nested cross-validation and fold bags train on these and never see the test rows."""
    pool = np.union1d(split.train, split.validation)
    _check_enough_groups(labels[pool], groups[pool], folds)
    inner = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        Split(train=pool[rest], validation=pool[held], test=split.test)
        for rest, held in inner.split(pool, labels[pool], groups[pool])
    ]


def member_splits(
    labels: np.ndarray, groups: np.ndarray, split: Split, members: int, seed: int, stops_early: bool
) -> list[Split]:
    """A fold bag's members: the k-th holds out inner fold k of ``split``'s training and validation
    rows as its test side (the rows its out-of-fold predictions are of) and trains on the rest, less,
    where it ``stops_early``, one grouped fold of that rest (a quarter at most) that it stops on. So
    no member predicts a row it trained on or stopped on."""
    splits = []
    for inner in inner_splits(labels, groups, split, members, seed):
        train, validation = inner.train, inner.validation[:0]
        if stops_early:
            train, validation = _hold_out_fold(labels, groups, inner.train, max(members, 4), seed + 1)
        splits.append(Split(train=np.sort(train), validation=np.sort(validation), test=inner.validation))
    return splits


def _with_validation(
    labels: np.ndarray, groups: np.ndarray, rest: np.ndarray, test: np.ndarray, config: SplitConfig
) -> Split:
    if config.validation_fraction == 0:  # no early stopping: a fixed number of epochs on all of the rest
        return Split(train=np.sort(rest), validation=np.empty(0, dtype=rest.dtype), test=np.sort(test))
    share_of_rest = len(rest) / len(labels)
    n_splits = max(2, round(share_of_rest / config.validation_fraction))
    train, validation = _hold_out_fold(labels, groups, rest, n_splits, config.seed + 1)
    return Split(train=np.sort(train), validation=np.sort(validation), test=np.sort(test))


def _hold_out_fold(
    labels: np.ndarray, groups: np.ndarray, indices: np.ndarray, n_splits: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` into (the rest, held out), the held-out part being one of ``n_splits`` folds."""
    _check_enough_groups(labels[indices], groups[indices], n_splits)
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    rest, held = next(folds.split(indices, labels[indices], groups[indices]))
    return indices[rest], indices[held]


def _check_enough_groups(labels: np.ndarray, groups: np.ndarray, n_splits: int) -> None:
    for code in np.unique(labels):
        distinct = len(np.unique(groups[labels == code]))
        if distinct < n_splits:
            raise DataError(
                f"genre '{GENRES[code]}' has {distinct} distinct tracks; a grouped stratified split into "
                f"{n_splits} folds needs at least {n_splits} per genre (add tracks or change the 'split' settings)"
            )
