"""Ensembles of one kind of model, and the out-of-fold predictions that inner folds give.

An ensemble's members train on the same rows with their own seeds, or each on the training rows
minus one grouped inner fold, stopping early on that fold. The second way wastes no rows on a fixed
validation split, and each member's predictions on its own fold are out-of-fold: a stack chooses its
weights on them without ever looking at the test rows (AutoGluon's bagging pays for its stack so).
The family decides how its members become one model: networks average theirs in one Keras model.
Given workers, the members train side by side there, each coming back as the files of its model.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from multimodal_genre import progress
from multimodal_genre.checkpoints import kept_or_fit
from multimodal_genre.data import GenreDataset, Split, inner_splits
from multimodal_genre.families.base import Family, OutOfFold, TrainedModel
from multimodal_genre.files import read_folder, write_folder
from multimodal_genre.settings import Settings

if TYPE_CHECKING:
    from multimodal_genre.workers import Workers

logger = logging.getLogger(__name__)


def fit_ensemble(
    family: Family,
    settings: Settings,
    members: int,
    subsets: Literal["seeds", "folds"],
    dataset: GenreDataset,
    split: Split,
    seed: int,
    callbacks: Sequence[Any] = (),
    workers: Workers | None = None,
    checkpoints: Path | None = None,
    step_logs: Path | None = None,
) -> TrainedModel:
    """``members`` models of ``family`` (``settings`` describing one of them) made one by its ``combine``.
    Member k has seed ``seed + k - 1``; ``callbacks`` watch the first member only, so a pruner sees
    each step once. The history has every member's steps, told apart by its ``member`` column. With
    ``workers`` (entered) that do not run here, the members train there side by side (no callbacks).
    Otherwise they train one after another, each kept in ``checkpoints`` (``member1``, ...) as it
    finishes, where one trained before an interruption is taken back instead of trained again, and
    each writes its steps for TensorBoard into ``step_logs`` (``member1``, ...)."""
    folds = subsets == "folds"
    splits = inner_splits(dataset.labels, dataset.groups, split, members, seed) if folds else [split] * members
    if workers is not None and not workers.here:
        if callbacks:
            raise ValueError("an ensemble whose members train on workers cannot take callbacks")
        trained = _fit_on_workers(family, settings, dataset, splits, seed, workers)
    else:
        trained = [
            _fit_member(
                family,
                settings,
                dataset,
                member_split,
                seed + index,
                index,
                members,
                () if index else callbacks,
                checkpoints and checkpoints / f"member{index + 1}",
                step_logs and step_logs / f"member{index + 1}",
            )
            for index, member_split in enumerate(splits)
        ]
    return combine_members(family, trained, _predictions_on_own_folds(trained, splits, dataset) if folds else None)


def combine_members(
    family: Family, members: Sequence[TrainedModel], out_of_fold: OutOfFold | None = None
) -> TrainedModel:
    """The trained ``members`` as one model (``family.combine``) that keeps each member's history,
    told apart by the ``member`` column, and their summed training time."""
    history = pd.concat(
        [member.history.assign(member=index) for index, member in enumerate(members, start=1)], ignore_index=True
    )
    return TrainedModel(
        family,
        family.combine([member.model for member in members]),
        history,
        best_epoch=sum(member.best_epoch for member in members),
        seconds=sum(member.seconds for member in members),
        members=tuple(members),
        out_of_fold=out_of_fold,
    )


def fit_out_of_fold(
    family: Family,
    settings: Settings,
    dataset: GenreDataset,
    split: Split,
    seed: int,
    folds: int,
    checkpoints: Path | None = None,
) -> OutOfFold:
    """Out-of-fold predictions for a model trained whole on ``split``: ``folds`` models of its kind on
    the same inner folds as a fold ensemble, each kept only to predict its own fold (and kept in
    ``checkpoints`` as ``inner1``, ... until then, as ``fit_ensemble`` keeps its members)."""
    splits = inner_splits(dataset.labels, dataset.groups, split, folds, seed)
    trained = [
        _fit_member(
            family, settings, dataset, inner, seed, index, folds, (), checkpoints and checkpoints / f"inner{index + 1}"
        )
        for index, inner in enumerate(splits)
    ]
    return _predictions_on_own_folds(trained, splits, dataset)


def _fit_member(
    family: Family,
    settings: Settings,
    dataset: GenreDataset,
    split: Split,
    seed: int,
    index: int,
    members: int,
    callbacks: Sequence[Any] = (),
    checkpoint: Path | None = None,
    step_logs: Path | None = None,
) -> TrainedModel:
    logger.info(
        "%s member %d/%d: %d training rows, %d validation rows",
        family.name,
        index + 1,
        members,
        len(split.train),
        len(split.validation),
    )
    watching = [*callbacks, *(family.step_loggers(step_logs) if step_logs else ())]
    fit = functools.partial(family.fit, settings, dataset, split, seed, watching)
    trained = kept_or_fit(checkpoint, family, settings, dataset, split, seed, fit)
    progress.done("member", f"{family.name} member {index + 1}/{members}")
    return trained


@dataclasses.dataclass(frozen=True)
class _MemberFiles:
    """A member trained on a worker: its model as the files ``save`` wrote, and what its training did."""

    files: dict[str, bytes]
    history: pd.DataFrame
    best_epoch: int
    seconds: float


def _fit_on_workers(
    family: Family, settings: Settings, dataset: GenreDataset, splits: Sequence[Split], seed: int, workers: Workers
) -> list[TrainedModel]:
    shared = workers.share(dataset)
    futures = [
        workers.submit(_fit_member_files, family.name, settings, shared, member_split, seed + index, index, len(splits))
        for index, member_split in enumerate(splits)
    ]
    trained = []
    for index, future in enumerate(futures, start=1):
        trained.append(_member_from_files(family, future.result()))
        progress.done("member", f"{family.name} member {index}/{len(futures)}")
    return trained


def _fit_member_files(
    name: str, settings: Settings, dataset: GenreDataset, split: Split, seed: int, index: int, members: int
) -> _MemberFiles:
    """A worker's task: one member trained, its model saved and read back as bytes, so that the worker
    needs no disk shared with the process that combines the members."""
    from multimodal_genre.families import family

    trained = _fit_member(family(name), settings, dataset, split, seed, index, members)
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-") as scratch:
        trained.save(Path(scratch))
        files = read_folder(Path(scratch))
    return _MemberFiles(files, trained.history, trained.best_epoch, trained.seconds)


def _member_from_files(family: Family, member: _MemberFiles) -> TrainedModel:
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-") as scratch:
        write_folder(Path(scratch), member.files)
        model = family.load(Path(scratch))
    return TrainedModel(family, model, member.history, member.best_epoch, member.seconds)


def _predictions_on_own_folds(
    members: Sequence[TrainedModel], splits: Sequence[Split], dataset: GenreDataset
) -> OutOfFold:
    rows = np.concatenate([split.validation for split in splits])
    probabilities = np.concatenate(
        [
            member.predict_proba(dataset.images[split.validation], dataset.features[split.validation])
            for member, split in zip(members, splits, strict=True)
        ]
    )
    order = np.argsort(rows)
    return OutOfFold(rows[order], probabilities[order])
