"""The fused dataset: each track's feature row joined to its spectrogram array, label and duplicate group."""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image

from multimodal_genre.data import cache
from multimodal_genre.data.duplicates import duplicate_groups
from multimodal_genre.data.images import read_images, to_unit_float
from multimodal_genre.data.layout import (
    FEATURE_COLUMNS,
    FEATURES_CSV,
    GENRES,
    IMAGES_DIR,
    audio_path,
    image_path,
    track_id,
)
from multimodal_genre.data.settings import DataConfig
from multimodal_genre.data.table import read_features_table
from multimodal_genre.errors import DataError, DatasetNotFoundError, some_of

# A dataset folder holding this file was made by the synthetic generator; reports say so.
SYNTHETIC_MARKER = "SYNTHETIC.md"
_NAMED_IN_WARNING = 20


class MissingImageWarning(UserWarning):
    """CSV rows without a spectrogram image; they are left out of the dataset."""


@dataclasses.dataclass(frozen=True, eq=False)
class Tracks:
    """What a model predicts from: the views of some tracks, row i of each the same track. Beside the
    picture and the feature row, a pre-trained network's view of each track, by its name
    (``musicnn/embeddings.py``), where a model reads one."""

    images: np.ndarray  # float32 (n, height, width, channels) in [0, 1]
    features: np.ndarray  # float64 (n, 57) as written in the CSV, unscaled
    embeddings: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.features)


@dataclasses.dataclass(frozen=True, eq=False)
class Labelled:
    """Some tracks' views and their genres: the rows a model is fitted on, or watches as it fits
    (scikit-learn's ``X`` and ``y``)."""

    tracks: Tracks
    labels: np.ndarray  # int64 positions in GENRES, row i the genre of track i

    def __len__(self) -> int:
        return len(self.labels)


@dataclasses.dataclass(frozen=True, eq=False)
class GenreDataset:
    """Tracks with both views. Row i of every array is the same track."""

    track_ids: np.ndarray  # str, e.g. "blues.00000"
    labels: np.ndarray  # int64 positions in GENRES
    features: np.ndarray  # float64 (n, 57) as written in the CSV, unscaled
    images: np.ndarray  # float32 (n, height, width, channels) in [0, 1]
    groups: np.ndarray  # int64 duplicate-group id; identical tracks share one
    lengths: np.ndarray  # int64 samples of each clip at 22,050 Hz (the CSV's length)
    pictures: np.ndarray  # str path of each track's PNG
    audio: np.ndarray  # str path of each track's audio under genres_original/, "" where it has none
    root: Path
    dropped: tuple[str, ...]  # CSV file names that had no image
    source_image_size: tuple[int, int]  # (width, height) of the PNG files
    fingerprint: str  # hash of the CSV and every image used
    synthetic: bool  # made by the synthetic generator, not real music
    image_cache: Literal["hit", "miss", "off"]
    # A pre-trained network's view of each track, by name (``with_embeddings``); row i is track i.
    embeddings: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.track_ids)

    def tracks(self, rows: np.ndarray | None = None) -> Tracks:
        """The views of ``rows`` (all tracks when None), for a model to predict from."""
        rows = slice(None) if rows is None else rows
        embeddings = {name: array[rows] for name, array in self.embeddings.items()}
        return Tracks(self.images[rows], self.features[rows], embeddings)

    def labelled(self, rows: np.ndarray) -> Labelled:
        """The views and genres of ``rows``, for a model to fit on."""
        return Labelled(self.tracks(rows), self.labels[rows])

    def with_embeddings(self, embeddings: Mapping[str, np.ndarray]) -> GenreDataset:
        """The same dataset with these views of its tracks added (one row per track each)."""
        for name, array in embeddings.items():
            if len(array) != len(self):
                raise ValueError(f"embedding {name}: {len(array)} rows for {len(self)} tracks")
        return dataclasses.replace(self, embeddings={**self.embeddings, **embeddings})

    @property
    def has_audio(self) -> bool:
        """Whether every track has its audio (the full Kaggle download), so a pre-trained network may
        read its input from the audio rather than from the picture."""
        return bool(len(self)) and all(self.audio)

    def duplicate_sets(self) -> list[list[str]]:
        """Track ids of every group with more than one track, in dataset order."""
        ids, counts = np.unique(self.groups, return_counts=True)
        return [self.track_ids[self.groups == group].tolist() for group in ids[counts > 1]]


def load_dataset(root: str | Path, config: DataConfig) -> GenreDataset:
    """Read, validate and join a dataset folder in the Kaggle GTZAN layout.

    Raises DataError (naming the file, line or track) on any inconsistency, and warns once,
    with MissingImageWarning, about CSV rows that have no image.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"{root}: dataset folder not found")
    if not (root / IMAGES_DIR).is_dir():
        raise DataError(f"{root / IMAGES_DIR}: image folder not found")
    csv_path = root / FEATURES_CSV
    table, paths, dropped = _rows_with_images(root, read_features_table(csv_path))
    digests = [cache.file_digest(path) for path in paths]
    features = table[list(FEATURE_COLUMNS)].to_numpy(np.float64)
    images, cache_state = _load_images(paths, digests, config)
    with Image.open(paths[0]) as first:
        source_size = first.size
    fingerprint = hashlib.sha256("\n".join([cache.file_digest(csv_path), *digests]).encode()).hexdigest()[:16]

    return GenreDataset(
        track_ids=np.array([track_id(name) for name in table["filename"]]),
        labels=np.array([GENRES.index(label) for label in table["label"]], dtype=np.int64),
        features=features,
        images=to_unit_float(images),
        groups=duplicate_groups(features, digests),
        lengths=table["length"].to_numpy(np.int64),
        pictures=np.array([str(path) for path in paths]),
        audio=np.array(
            [_audio_of(root, label, name) for label, name in zip(table["label"], table["filename"], strict=True)]
        ),
        root=root,
        dropped=dropped,
        source_image_size=source_size,
        fingerprint=fingerprint,
        synthetic=(root / SYNTHETIC_MARKER).exists(),
        image_cache=cache_state,
    )


def _rows_with_images(root: Path, table: pd.DataFrame) -> tuple[pd.DataFrame, list[Path], tuple[str, ...]]:
    """The CSV rows that have an image, their images' paths, and the file names of the rows left out
    (warned about once)."""
    paths = [image_path(root, label, name) for label, name in zip(table["label"], table["filename"], strict=True)]
    present = np.array([path.is_file() for path in paths])
    dropped = tuple(table["filename"][~present])
    if dropped:
        named = some_of(dropped, _NAMED_IN_WARNING)
        warnings.warn(
            MissingImageWarning(f"{root / IMAGES_DIR}: no image for {_rows(len(dropped))}, left out: {named}"),
            stacklevel=3,
        )
        table = table[present].reset_index(drop=True)
        paths = [path for path, exists in zip(paths, present, strict=True) if exists]
    if table.empty:
        raise DataError(f"{root}: no track has both a CSV row and an image")
    return table, paths, dropped


def _audio_of(root: Path, label: str, filename: str) -> str:
    path = audio_path(root, label, filename)
    return str(path) if path.is_file() else ""


def _rows(count: int) -> str:
    return f"{count} CSV row" if count == 1 else f"{count} CSV rows"


def _load_images(
    paths: list[Path], digests: list[str], config: DataConfig
) -> tuple[np.ndarray, Literal["hit", "miss", "off"]]:
    directory = cache.directory_for(config)
    if directory is None:
        return read_images(paths, config.image), "off"
    key = cache.images_key(digests, config.image)
    cached = cache.load_array(directory, key)
    if cached is not None:
        return cached, "hit"
    images = read_images(paths, config.image)
    try:
        cache.save_array(directory, key, images)
    except OSError as error:
        warnings.warn(
            f"{directory}: cannot write the image cache ({error.strerror}); the next load decodes again", stacklevel=2
        )
    return images, "miss"
