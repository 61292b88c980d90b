"""Building a stack: weights chosen by greedy ensemble selection on out-of-fold predictions.

Caruana et al. (2004), as AutoGluon's weighted ensemble does it: start from nothing, and in each round
add (again, if it is best) the member whose addition gives the running average the lowest log loss;
a member's weight is its share of the picks up to the round with the lowest loss. The selection sees
only the members' out-of-fold predictions of the training rows, never the test rows, so the stack's
test figures are as honest as its members'. Log loss, not macro-F1, guides it: on a few hundred
rows F1 moves in steps and ties, while the loss ranks every candidate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from multimodal_genre.data import GenreDataset, Split
from multimodal_genre.errors import RunError
from multimodal_genre.families import TrainedModel, family
from multimodal_genre.families.stacks import Stack, StackConfig
from multimodal_genre.runs import OUT_OF_FOLD_FILE, PREDICTIONS_FILE, PROBABILITY_COLUMNS


def greedy_selection(
    candidates: Sequence[np.ndarray], labels: np.ndarray, rounds: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """Each candidate's weight (summing to 1), and the history of the selection: per round, the log
    loss and accuracy of the running average; the weights are those of the round of lowest loss."""
    total = np.zeros_like(candidates[0], dtype=np.float64)
    picks, history = [], []
    for round_ in range(1, rounds + 1):
        losses = [_log_loss(labels, (total + candidate) / round_) for candidate in candidates]
        best = int(np.argmin(losses))
        picks.append(best)
        total += candidates[best]
        accuracy = float(np.mean(total.argmax(axis=1) == labels))
        history.append({"round": round_, "loss": losses[best], "accuracy": accuracy})
    history = pd.DataFrame(history)
    kept = best_round(history)
    weights = np.bincount(picks[:kept], minlength=len(candidates)) / kept
    return weights, history


def best_round(history: pd.DataFrame) -> int:
    """The 1-based round of lowest loss in a selection's history: the one whose weights are kept."""
    return int(history["loss"].idxmin()) + 1


def build_stack(
    name: str, settings: StackConfig, folder: Path, dataset: GenreDataset, split: Split
) -> tuple[TrainedModel, np.ndarray]:
    """The stack ``name`` of the member runs in ``folder`` (one sub-folder per member, named after
    it), and its probabilities for ``split``'s test rows."""
    started = time.perf_counter()
    pool = np.union1d(split.train, split.validation)
    members = settings.members
    out_of_fold = [_member_probabilities(folder / member / OUT_OF_FOLD_FILE, dataset, pool) for member in members]
    test = [_member_probabilities(folder / member / PREDICTIONS_FILE, dataset, split.test) for member in members]
    weights, history = greedy_selection(out_of_fold, dataset.labels[pool], settings.rounds)
    probabilities = sum(weight * member for weight, member in zip(weights, test, strict=True))
    stack = Stack({member: float(weight) for member, weight in zip(members, weights, strict=True)})
    trained = TrainedModel(family(name), stack, history, best_round(history), time.perf_counter() - started)
    return trained, np.asarray(probabilities, dtype=np.float32)


def _member_probabilities(path: Path, dataset: GenreDataset, rows: np.ndarray) -> np.ndarray:
    """The probabilities that ``path`` (a predictions table) gives the tracks of ``rows``, in their order."""
    if not path.is_file():
        hint = (
            " (a stack's members must be trained in the same comparison as the stack; remove this run and --resume)"
            if path.name == OUT_OF_FOLD_FILE
            else ""
        )
        raise RunError(f"{path}: missing{hint}")
    table = pd.read_csv(path, index_col="track")
    wanted = dataset.track_ids[rows]
    if set(table.index) != set(wanted):
        raise RunError(f"{path}: its tracks are not the {len(wanted)} tracks of this split")
    return table.loc[wanted, PROBABILITY_COLUMNS].to_numpy(dtype=np.float64)


def _log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    chosen = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(chosen, 1e-15, 1.0))))
