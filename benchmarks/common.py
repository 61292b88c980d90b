"""What the benchmark scripts share: the ``--data`` option (default $GTZAN_DIR) and the dataset
loaded without the warning for its row that has no picture (GTZAN's jazz.00054)."""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

from multimodal_genre.data import GenreDataset, MissingImageWarning, load_dataset
from multimodal_genre.data.settings import DataConfig


def add_data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=os.environ.get("GTZAN_DIR"), help="dataset (default: $GTZAN_DIR)")


def parse_with_data(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The parsed arguments; a missing dataset is the parser's own error."""
    args = parser.parse_args()
    if args.data is None:
        parser.error("name the dataset with --data or GTZAN_DIR")
    return args


def quiet_dataset(root: Path, config: DataConfig) -> GenreDataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingImageWarning)
        return load_dataset(root, config)
