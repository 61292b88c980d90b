"""Standardising a wide view of a track so that each block of its columns weighs the same.

A pre-trained network's view of a clip comes in blocks (each pooled activation's mean over the
clip's patches, then its max; ``Embedding.blocks``) of hundreds of columns, beside the 57 of the
feature row. Standardised column by column, a block would weigh in a distance or a dense layer by
how many columns it has, and a unit that never fires (its values differ in the last bits only)
would weigh as much as a real feature. The SVM's kernel and a network's pre-trained branch both
read a view scaled here, fitted on the training rows alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# A column that varies less than this share of its block's most varied one carries rounding noise only.
NOISE = 1e-6


def block_scales(values: np.ndarray, widths: Sequence[int]) -> np.ndarray:
    """Each column's divisor: its spread times the root of the number of varying columns in its
    block, so that each block's columns sum to a variance of 1. A column that varies less than
    ``NOISE`` of its block's most varied one gets an infinite divisor and reads as 0."""
    divisors = []
    for spread in np.split(values.std(axis=0), np.cumsum(widths)[:-1]):
        varying = spread > NOISE * spread.max(initial=0.0)
        divisors.append(np.where(varying, spread * np.sqrt(max(int(varying.sum()), 1)), np.inf))
    return np.concatenate(divisors)
