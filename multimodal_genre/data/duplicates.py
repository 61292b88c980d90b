"""Duplicate-track groups.

GTZAN repeats some clips byte for byte (14 groups in the Kaggle files, one of them across two
genres). A split that puts one copy in training and another in test inflates the score, so every
track gets a group id and splits keep each group on one side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def duplicate_groups(features: np.ndarray, image_digests: Sequence[str]) -> np.ndarray:
    """Group id per track: tracks sharing a feature row or image bytes, directly or through
    a chain of such links, share an id. Ids count up in order of first appearance."""
    n = len(image_digests)
    if features.shape[0] != n:
        raise ValueError(f"{features.shape[0]} feature rows but {n} image digests")
    # Link each track to the first track with the same feature row, and with the same image.
    by_features = np.unique(features, axis=0, return_inverse=True)[1].ravel()
    by_image = np.unique(np.asarray(image_digests), return_inverse=True)[1]
    first_of = np.concatenate([_first_index(by_features), _first_index(by_image)])
    edges = coo_matrix((np.ones(2 * n), (np.tile(np.arange(n), 2), first_of)), shape=(n, n))
    _, labels = connected_components(edges, directed=False)
    # connected_components numbers components by their lowest member, i.e. by first appearance.
    return labels.astype(np.int64)


def _first_index(keys: np.ndarray) -> np.ndarray:
    """For each position, the first position holding the same key."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first[inverse]
