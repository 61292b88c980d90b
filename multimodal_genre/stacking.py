"""Building a stack from the runs of its members, which a comparison wrote beside it.

Each member is a fold bag: its out-of-fold predictions of the training pool (each row from the member
model that held it out) and its test predictions (the same models averaged) come from the same K
models, so the weights greedy selection chooses on the first are the weights of what the second
averages. The selection sees only the pool, never the test rows; both sets of predictions pass
``seen.py``'s checks against what each model saw, so the stack's test figures are as honest as its
members'.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from multimodal_genre.data import GenreDataset, Split
from multimodal_genre.errors import RunError
from multimodal_genre.families import TrainedModel, family
from multimodal_genre.families.stack.family import Stack, StackConfig
from multimodal_genre.families.stack.selection import best_round, greedy_selection
from multimodal_genre.runs import OUT_OF_FOLD_FILE, PREDICTIONS_FILE, PROBABILITY_COLUMNS, read_seen
from multimodal_genre.seen import Seen, refuse_seen, refuse_seen_out_of_fold


def build_stack(
    name: str, settings: StackConfig, folder: Path, dataset: GenreDataset, split: Split
) -> tuple[TrainedModel, np.ndarray]:
    """The stack ``name`` of the member runs in ``folder`` (one sub-folder per member, named after
    it), and its probabilities for ``split``'s test rows."""
    started = time.perf_counter()
    pool = np.union1d(split.train, split.validation)
    out_of_fold, test, seen = [], [], []
    for member in settings.base_models:
        member_seen, held_out, tested = _member_predictions(folder / member, member, dataset, pool, split.test)
        out_of_fold.append(held_out)
        test.append(tested)
        seen.append(member_seen)
    weights, history = greedy_selection(out_of_fold, dataset.labels[pool], settings.rounds)
    probabilities = sum(weight * member for weight, member in zip(weights, test, strict=True))
    stack = Stack({member: float(weight) for member, weight in zip(settings.base_models, weights, strict=True)})
    seconds = time.perf_counter() - started
    trained = TrainedModel(family(name), stack, history, best_round(history), seconds, Seen.union(seen))
    return trained, np.asarray(probabilities, dtype=np.float32)


def _member_predictions(
    directory: Path, member: str, dataset: GenreDataset, pool: np.ndarray, test: np.ndarray
) -> tuple[Seen, np.ndarray, np.ndarray]:
    """What the member run in ``directory`` saw, its out-of-fold probabilities for the ``pool`` rows
    and its test probabilities for the ``test`` rows, each checked against what its models saw."""
    seen, member_seen = read_seen(directory)
    held_out = _read_table(directory / OUT_OF_FOLD_FILE, dataset, pool)
    if not member_seen or "member" not in held_out:
        raise RunError(f"{directory}: a stack's member must be fold-bagged (models.{member}.bagging)")
    tracks = held_out.index.to_numpy()
    refuse_seen_out_of_fold(member_seen, tracks, held_out["member"].to_numpy() - 1, member)
    tested = _read_table(directory / PREDICTIONS_FILE, dataset, test)
    refuse_seen(seen, tested.index, member)
    return seen, _probabilities(held_out), _probabilities(tested)


def _read_table(path: Path, dataset: GenreDataset, rows: np.ndarray) -> pd.DataFrame:
    """The predictions table at ``path`` for the tracks of ``rows``, in their order."""
    if not path.is_file():
        raise RunError(
            f"{path}: missing (a stack's base models must be trained in the same comparison as the stack; "
            "remove this run and --resume)"
        )
    table = pd.read_csv(path, index_col="track")
    wanted = dataset.track_ids[rows]
    if set(table.index) != set(wanted):
        raise RunError(f"{path}: its tracks are not the {len(wanted)} tracks of this split")
    return table.loc[wanted]


def _probabilities(table: pd.DataFrame) -> np.ndarray:
    return table[PROBABILITY_COLUMNS].to_numpy(dtype=np.float64)
