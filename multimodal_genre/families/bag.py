"""Bagging: K models of any family averaged into one model.

Members train on the same rows with their own seeds (``subsets: seeds``), or each on a split's
training pool (train + validation) less one grouped inner fold (``subsets: folds``), stopping early
on a slice of its own training rows, never on the fold it held out. The second way keeps no rows
aside in a fixed validation split, and each member's predictions of the fold it held out are
out-of-fold, of rows it neither trained nor stopped on: a study scores a trial on them and a stack
chooses its weights on them, while the test predictions come from the same K models averaged
(AutoGluon's bagged models, scikit-learn's ``BaggingClassifier``). The members are the family's own
models, each saved in a folder of its own (``member1/``, ...) beside ``bag.json``, so a bag of any
family saves, loads and predicts, and a bag of bags too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from multimodal_genre.data import GenreDataset, Split, Tracks, member_splits
from multimodal_genre.errors import RunError, first_line
from multimodal_genre.families.base import Family, Predictor, TrainedModel
from multimodal_genre.files import write_json
from multimodal_genre.seen import OutOfFold, Seen, unseen_probabilities
from multimodal_genre.settings import Problems, Settings

BAG_FILE = "bag.json"


@dataclasses.dataclass(frozen=True)
class BaggingConfig(Settings):
    """``members`` models averaged: each on the pool less one inner fold, or on the same rows with its own seed."""

    members: int
    subsets: Literal["folds", "seeds"]

    def problems(self) -> Problems:
        if self.members < 2:
            yield "members", f"must be at least 2 (null trains one model), got {self.members}"


@dataclasses.dataclass(frozen=True)
class Bag:
    """The members' own models (each its family's kind), whose probabilities the bag averages."""

    members: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class MemberTask:
    """One member to train: its 1-based index, settings, rows and seed."""

    index: int
    settings: Settings
    split: Split
    seed: int


# Trains a bag's members (one after another here, or side by side on workers) and returns them in order.
FitMembers = Callable[[Family, Sequence[MemberTask], GenreDataset, Sequence[Any]], list[TrainedModel]]


class BaggedFamily(Predictor):
    """``inner``'s models averaged: what predicts with, saves and loads a bag (``fit_bag`` fits one)."""

    def __init__(self, inner: Predictor) -> None:
        self.inner = inner
        self.name, self.views, self.shades = inner.name, inner.views, inner.shades
        self.unit, self.length_setting, self.files = inner.unit, inner.length_setting, (BAG_FILE,)

    def predict_proba(self, model: Bag, tracks: Tracks) -> np.ndarray:
        return np.mean([self.inner.predict_proba(member, tracks) for member in model.members], axis=0)

    def save(self, model: Bag, directory: Path) -> None:
        for index, member in enumerate(model.members, start=1):
            folder = directory / f"member{index}"
            folder.mkdir()
            self.inner.save(member, folder)
        write_json(directory / BAG_FILE, {"members": len(model.members)})

    def load(self, directory: Path) -> Bag:
        count = _member_count(directory)
        return Bag(tuple(self.inner.load(directory / f"member{index}") for index in range(1, count + 1)))


def load_saved(family: Family, directory: Path) -> tuple[Predictor, Any]:
    """The model that ``save`` wrote into ``directory`` and the family that predicts with it: a bag
    (of bags, ...) of ``family``'s models where ``bag.json`` says so, else one of its models."""
    depth, folder = 0, directory
    while (folder / BAG_FILE).is_file():
        depth, folder = depth + 1, folder / "member1"
    owner: Predictor = family
    for _ in range(depth):
        owner = BaggedFamily(owner)
    return owner, owner.load(directory)


def _member_count(directory: Path) -> int:
    path = directory / BAG_FILE
    try:
        count = json.loads(path.read_text())["members"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RunError(f"{path}: not a bag's description ({first_line(error)})") from None
    if not isinstance(count, int) or count < 1:
        raise RunError(f"{path}: 'members' must be a positive integer, got {count!r}")
    return count


def member_tasks(
    family: Family,
    plan: BaggingConfig,
    settings: Sequence[Settings],
    dataset: GenreDataset,
    split: Split,
    seed: int,
) -> list[MemberTask]:
    """The members ``plan`` trains on ``split``, member k with ``settings[k - 1]`` and seed ``seed + k - 1``;
    a fold bag's member k has the fold it holds out as its test side."""
    if plan.subsets == "folds":
        stops_early = family.watches_validation(settings[0])
        splits = member_splits(dataset.labels, dataset.groups, split, plan.members, seed, stops_early)
    else:
        splits = [split] * plan.members
    return [
        MemberTask(index, member_settings, member_split, seed + index - 1)
        for index, (member_settings, member_split) in enumerate(zip(settings, splits, strict=True), start=1)
    ]


def fit_bag(
    family: Family,
    plan: BaggingConfig,
    settings: Sequence[Settings],
    dataset: GenreDataset,
    split: Split,
    seed: int,
    fit_members: FitMembers,
    callbacks: Sequence[Any] = (),
) -> TrainedModel:
    """``plan.members`` models of ``family`` (member k with ``settings[k - 1]``) trained on ``split``
    by ``fit_members`` and averaged; a fold bag comes with its out-of-fold predictions."""
    tasks = member_tasks(family, plan, settings, dataset, split, seed)
    members = fit_members(family, tasks, dataset, callbacks)
    held_out = _out_of_fold(members, tasks, dataset) if plan.subsets == "folds" else None
    return averaged(members, held_out)


def averaged(members: Sequence[TrainedModel], out_of_fold: OutOfFold | None = None) -> TrainedModel:
    """``members`` (of one family) as one model: the mean of their probabilities. It keeps every
    single model's history, told apart by the ``member`` column, and has seen what any member saw."""
    singles = [single for member in members for single in member.singles()]
    history = pd.concat(
        [single.history.assign(member=index) for index, single in enumerate(singles, start=1)], ignore_index=True
    )
    return TrainedModel(
        BaggedFamily(members[0].family),
        Bag(tuple(member.model for member in members)),
        history,
        kept=None,
        seconds=sum(member.seconds for member in members),
        seen=Seen.union(member.seen for member in members),
        members=tuple(members),
        out_of_fold=out_of_fold,
    )


def _out_of_fold(members: Sequence[TrainedModel], tasks: Sequence[MemberTask], dataset: GenreDataset) -> OutOfFold:
    """Each member's predictions of the inner fold it held out (neither trained nor stopped on)."""
    held = [task.split.test for task in tasks]
    probabilities = [unseen_probabilities(member, dataset, rows) for member, rows in zip(members, held, strict=True)]
    rows = np.concatenate(held)
    predicted_by = np.concatenate([np.full(len(part), index) for index, part in enumerate(held)])
    order = np.argsort(rows)
    seen_by = tuple(member.seen for member in members)
    return OutOfFold(rows[order], np.concatenate(probabilities)[order], predicted_by[order], seen_by)
