"""A stack fitted in memory: its base models, fold bags trained on the same split, and its weights
chosen by the stack family's fit on their out-of-fold predictions of the training pool.

Each base model's out-of-fold predictions (each row from the member model that held it out) and its
test predictions (the same K models averaged) come from the same models, so the weights chosen on
the first are the weights of what the second averages. The selection sees only the pool, never the
test rows, and every out-of-fold row passes ``seen.py``'s check against the member that predicted
it. ``train`` and ``tune`` fit the base models here; ``compare``, which trains them as runs of
their own beside the stack, reads them back from their run folders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from multimodal_genre.data import GenreDataset, Labelled
from multimodal_genre.errors import ConfigError, RunError
from multimodal_genre.families import BaggingConfig, Predictor, TrainedModel, family
from multimodal_genre.families.stack.family import Stack, StackConfig, base_view
from multimodal_genre.runs import OUT_OF_FOLD_FILE, load_model_run, read_out_of_fold
from multimodal_genre.seen import OutOfFold, Seen


@dataclasses.dataclass(frozen=True)
class Base:
    """A fold-bagged base model of a stack: what predicts with it, what it saw, and its out-of-fold
    predictions of the pool."""

    predictor: Predictor
    model: Any
    seen: Seen
    out_of_fold: OutOfFold
    seconds: float  # its training's, where the stack trained it (0 for a run of its own)

    @classmethod
    def of(cls, trained: TrainedModel) -> Base:
        if trained.out_of_fold is None:
            raise RunError(f"a stack's base model '{trained.name}' must be fold-bagged ({fold_bagged(trained.name)})")
        return cls(trained.family, trained.model, trained.seen, trained.out_of_fold, trained.seconds)

    @classmethod
    def read(cls, directory: Path, dataset: GenreDataset, pool: np.ndarray) -> Base:
        """The base model of the run folder ``directory`` (a comparison's, beside the stack's) and its
        out-of-fold predictions (``out_of_fold.csv``) of the ``pool`` rows."""
        run = load_model_run(directory)
        oof = read_out_of_fold(directory, dataset)
        if oof is None:
            raise RunError(f"{directory}: a stack's base model must be fold-bagged ({fold_bagged(run.name)})")
        if not np.array_equal(oof.rows, np.sort(pool)):
            path = directory / OUT_OF_FOLD_FILE
            raise RunError(f"{path}: its tracks are not the {len(pool)} tracks of this split's training pool")
        return cls(run.family, run.model, run.seen, oof, 0.0)


def fold_bagged(name: str) -> str:
    return f"models.{name}.bagging: {{members: 5, subsets: folds}}"


def check_bases(name: str, settings: StackConfig, bagging: Mapping[str, BaggingConfig]) -> None:
    """A ConfigError unless every base model of the stack ``name`` is fold-bagged: its out-of-fold
    predictions, which the weights are chosen on, and its test predictions then come from the same models."""
    for base in settings.base_models:
        plan = bagging.get(base)
        if plan is None or plan.subsets != "folds":
            raise ConfigError(
                f"models.{name}.base_models: '{base}' must be fold-bagged ({fold_bagged(base)}), so that the "
                "predictions its weight is chosen on and those it is applied to come from the same models"
            )


def fit_stack(
    name: str, settings: StackConfig, bases: Mapping[str, Base], dataset: GenreDataset, seed: int
) -> TrainedModel:
    """The stack ``name`` of ``bases`` (by name, each held out on the same folds): fitted on their
    out-of-fold probabilities, predicting through them, with its own out-of-fold predictions (their
    weighted average, by the members that held each row out)."""
    first = next(iter(bases.values())).out_of_fold
    for base_name, base in bases.items():
        oof = base.out_of_fold
        if not (np.array_equal(oof.rows, first.rows) and np.array_equal(oof.predicted_by, first.predicted_by)):
            raise RunError(
                f"stack {name}: its base models must hold out the same folds, and {base_name} does not "
                "(give each the same bagging members)"
            )
        oof.refuse_seen(dataset, base_name)
    views = {base_view(base_name): base.out_of_fold.probabilities for base_name, base in bases.items()}
    pool = Labelled(dataclasses.replace(dataset.tracks(first.rows), embeddings=views), dataset.labels[first.rows])
    fitted = family(name).fit(settings, pool, None, seed)
    weights = fitted.model.weights
    stack = Stack(weights, {key: (base.predictor, base.model) for key, base in bases.items() if weights[key] > 0})
    members = range(len(first.seen_by))
    out_of_fold = OutOfFold(
        first.rows,
        sum(weights[key] * base.out_of_fold.probabilities for key, base in bases.items()),
        first.predicted_by,
        tuple(Seen.union(base.out_of_fold.seen_by[index] for base in bases.values()) for index in members),
    )
    seen = Seen.union(base.seen for base in bases.values())
    seconds = fitted.seconds + sum(base.seconds for base in bases.values())
    return TrainedModel(family(name), stack, fitted.history, fitted.kept, seconds, seen, out_of_fold=out_of_fold)
