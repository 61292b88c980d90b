"""A stack's weights: greedy ensemble selection on out-of-fold predictions.

Caruana et al. (2004), as AutoGluon's weighted ensemble does it: start from nothing, and in each round
add (again, if it is best) the member whose addition gives the running average the lowest log loss;
a member's weight is its share of the picks up to the round with the lowest loss. Log loss, not
macro-F1, guides it: on a few hundred rows F1 moves in steps and ties, while the loss ranks every
candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


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


def _log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    chosen = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(chosen, 1e-15, 1.0))))
