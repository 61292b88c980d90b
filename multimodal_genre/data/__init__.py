"""Everything between the GTZAN files on disk and the arrays a model trains on."""

from multimodal_genre.data.dataset import GenreDataset, MissingImageWarning, Tracks, load_dataset
from multimodal_genre.data.layout import FEATURE_COLUMNS, GENRES
from multimodal_genre.data.lists import split_for
from multimodal_genre.data.splits import Split, holdout_split, inner_splits, kfold_splits
from multimodal_genre.data.synthetic import write_synthetic_dataset

__all__ = [
    "FEATURE_COLUMNS",
    "GENRES",
    "GenreDataset",
    "MissingImageWarning",
    "Split",
    "Tracks",
    "holdout_split",
    "inner_splits",
    "kfold_splits",
    "load_dataset",
    "split_for",
    "write_synthetic_dataset",
]
