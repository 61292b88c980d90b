"""Everything between the GTZAN files on disk and the arrays a model trains on.

The names below are imported from their modules when first used, so that the light ones (the
layout's ``GENRES``, the settings) load without pandas or scikit-learn: the command line answers
``--help`` and argument errors at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multimodal_genre.data.dataset import GenreDataset, Labelled, MissingImageWarning, Tracks, load_dataset
    from multimodal_genre.data.layout import FEATURE_COLUMNS, GENRES, VARIANCE_COLUMNS
    from multimodal_genre.data.lists import split_for
    from multimodal_genre.data.splits import Split, holdout_split, inner_splits, kfold_splits, member_splits
    from multimodal_genre.data.synthetic import write_synthetic_dataset

_LAZY = {
    "FEATURE_COLUMNS": "layout",
    "GENRES": "layout",
    "GenreDataset": "dataset",
    "Labelled": "dataset",
    "MissingImageWarning": "dataset",
    "Split": "splits",
    "Tracks": "dataset",
    "VARIANCE_COLUMNS": "layout",
    "holdout_split": "splits",
    "inner_splits": "splits",
    "kfold_splits": "splits",
    "load_dataset": "dataset",
    "member_splits": "splits",
    "split_for": "lists",
    "write_synthetic_dataset": "synthetic",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


__all__ = [
    "FEATURE_COLUMNS",
    "GENRES",
    "GenreDataset",
    "Labelled",
    "MissingImageWarning",
    "Split",
    "Tracks",
    "VARIANCE_COLUMNS",
    "holdout_split",
    "inner_splits",
    "kfold_splits",
    "load_dataset",
    "member_splits",
    "split_for",
    "write_synthetic_dataset",
]
