"""Whether a model's probabilities mean what they say: its reliability diagram and calibration error.

The tracks are put in bins by the probability of their predicted genre (the model's confidence);
in a calibrated model, each bin's accuracy equals its mean confidence. The expected calibration error
is the gap between the two, averaged over the bins weighted by their tracks.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from multimodal_genre.data import GENRES
from multimodal_genre.report.sources import Entry

BINS = 10


@dataclasses.dataclass(frozen=True)
class Reliability:
    """Per non-empty bin of confidence: its mean confidence, accuracy and tracks; and the calibration error."""

    confidence: np.ndarray
    accuracy: np.ndarray
    tracks: np.ndarray
    error: float  # expected calibration error


def reliability(entry: Entry, bins: int = BINS) -> Reliability:
    """The reliability of ``entry``'s test predictions, in ``bins`` equal bins of confidence."""
    table = entry.predictions()
    probabilities = table[[f"p_{genre}" for genre in GENRES]].to_numpy(dtype=float)
    confidence = probabilities.max(axis=1)
    right = (table["true_genre"] == table["predicted_genre"]).to_numpy(dtype=float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    filled = [index for index in range(bins) if np.any(which == index)]
    means = np.array([confidence[which == index].mean() for index in filled])
    accuracy = np.array([right[which == index].mean() for index in filled])
    tracks = np.array([np.sum(which == index) for index in filled])
    error = float(np.sum(tracks * np.abs(accuracy - means)) / len(table))
    return Reliability(means, accuracy, tracks, error)
