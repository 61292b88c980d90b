"""A small synthetic dataset in the exact Kaggle GTZAN layout, for tests and for the demo.

The genre signal is split between the two views so that fusing them pays, as it should on real
music: the feature row mostly tells the genre's *family* (genres 0-1, 2-3, ... in GENRES order),
the image mostly tells which of the two family *members* it is (a bright band high or low in the
spectrogram), and each view carries only a faint cue of the other half. It also copies GTZAN's
quirks: one CSV row without an image, and byte-identical duplicate tracks, one pair across genres.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from PIL import Image

from multimodal_genre.data.dataset import SYNTHETIC_MARKER
from multimodal_genre.data.layout import (
    CLIP_SAMPLES,
    CSV_COLUMNS,
    FEATURE_COLUMNS,
    FEATURES_CSV,
    GENRES,
    IMAGE_SIZE,
    PLOT_COLS,
    PLOT_ROWS,
    image_path,
)
from multimodal_genre.errors import DataError

_MEMBER_ROWS = (0.75, 0.35)  # strong image cue: band centre, as a fraction of the plot height from the top
_FAMILY_ROWS = (0.15, 0.25, 0.5, 0.6, 0.9)  # faint image cue
_FAMILY_BAND = 0.1
_NOISE = 0.15
MIN_TRACKS_PER_GENRE = 4


def write_synthetic_dataset(root: str | Path, *, tracks_per_genre: int = 30, seed: int = 0) -> Path:
    """Write ``features_30_sec.csv`` and ``images_original/`` under ``root``; return ``root``.

    Refuses to replace a folder that is not itself a synthetic dataset, so real data is never lost.
    """
    root = Path(root)
    if tracks_per_genre < MIN_TRACKS_PER_GENRE:
        raise DataError(f"tracks_per_genre must be at least {MIN_TRACKS_PER_GENRE}, got {tracks_per_genre}")
    if root.exists() and any(root.iterdir()) and not (root / SYNTHETIC_MARKER).exists():
        raise DataError(f"{root}: folder exists and is not a synthetic dataset; refusing to overwrite it")

    rng = np.random.default_rng(seed)
    genres = np.repeat(np.arange(len(GENRES)), tracks_per_genre)
    numbers = np.tile(np.arange(tracks_per_genre), len(GENRES))
    features = _feature_rows(rng, genres)
    spectrograms = np.stack([_spectrogram(rng, genre) for genre in genres])

    # GTZAN's quirks: repeated clips within a genre, one across genres, one row without an image.
    def row(genre: str, number: int) -> int:
        return GENRES.index(genre) * tracks_per_genre + number

    last = tracks_per_genre - 1
    copies = {
        row("disco", last): row("disco", last - 1),
        row("metal", last): row("metal", 0),
        row("rock", 1): row("metal", 1),
    }
    for copy, original in copies.items():
        features[copy] = features[original]
        spectrograms[copy] = spectrograms[original]
    without_image = row("jazz", tracks_per_genre // 2)

    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        _write_csv(staging / FEATURES_CSV, genres, numbers, features)
        for index, (genre, number) in enumerate(zip(genres, numbers, strict=True)):
            if index != without_image:
                path = image_path(staging, GENRES[genre], f"{GENRES[genre]}.{number:05d}.wav")
                path.parent.mkdir(parents=True, exist_ok=True)
                _render(spectrograms[index]).save(path, compress_level=1)  # fast; noise hardly compresses
        (staging / SYNTHETIC_MARKER).write_text(_description(tracks_per_genre, seed), encoding="utf-8")
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _feature_rows(rng: np.random.Generator, genres: np.ndarray) -> np.ndarray:
    """Positive, log-normal features whose columns span magnitudes like the real CSV's."""
    scale = 10 ** rng.uniform(-2, 4, size=len(FEATURE_COLUMNS))
    family_means = rng.normal(0.0, 1.0, size=(len(GENRES) // 2, len(FEATURE_COLUMNS)))
    member_means = rng.normal(0.0, 0.12, size=(2, len(FEATURE_COLUMNS)))
    z = family_means[genres // 2] + member_means[genres % 2] + rng.normal(size=(len(genres), len(FEATURE_COLUMNS)))
    return scale * np.exp(z / 2)


def _spectrogram(rng: np.random.Generator, genre: int) -> np.ndarray:
    """Values in [0, 1] over the plot area: more energy low down, two bands, a loudness envelope, noise."""
    height = PLOT_ROWS[1] - PLOT_ROWS[0] + 1
    width = PLOT_COLS[1] - PLOT_COLS[0] + 1
    rows = np.arange(height)[:, None] / height

    def band(centre: float, spread: float, level: float) -> np.ndarray:
        return level * np.exp(-((rows - centre - rng.normal(0.0, 0.02)) ** 2) / (2 * spread**2))

    # The family band competes with a decoy band at a random family's row, both of random strength,
    # so the image names the family only about half the time, at any resolution.
    family, decoy = _FAMILY_ROWS[genre // 2], _FAMILY_ROWS[rng.integers(len(_FAMILY_ROWS))]
    envelope = rng.uniform(0.5, 1.0, size=(1, width))
    bands = (
        band(_MEMBER_ROWS[genre % 2], 0.05, 0.4)
        + band(family, 0.03, rng.uniform(0.0, _FAMILY_BAND))
        + band(decoy, 0.03, rng.uniform(0.0, _FAMILY_BAND))
    )
    values = 0.1 + 0.35 * rows**2 + bands * envelope + rng.normal(0.0, _NOISE, size=(height, width))
    return np.clip(values, 0.0, 1.0)


def _render(values: np.ndarray) -> Image.Image:
    """Draw like the Kaggle PNGs: magma colours in the plot box, opaque white border."""
    canvas = np.full((IMAGE_SIZE[1], IMAGE_SIZE[0], 4), 255, dtype=np.uint8)
    plot = colormaps["magma"](values, bytes=True)
    canvas[PLOT_ROWS[0] : PLOT_ROWS[1] + 1, PLOT_COLS[0] : PLOT_COLS[1] + 1] = plot
    return Image.fromarray(canvas, mode="RGBA")


def _write_csv(path: Path, genres: np.ndarray, numbers: np.ndarray, features: np.ndarray) -> None:
    table = pd.DataFrame(features, columns=list(FEATURE_COLUMNS))
    table.insert(0, "filename", [f"{GENRES[g]}.{n:05d}.wav" for g, n in zip(genres, numbers, strict=True)])
    table.insert(1, "length", CLIP_SAMPLES)
    table["label"] = [GENRES[g] for g in genres]
    table[list(CSV_COLUMNS)].to_csv(path, index=False, lineterminator="\r\n")  # CRLF, as Kaggle's file


def _description(tracks_per_genre: int, seed: int) -> str:
    return (
        "# Synthetic data, not music\n\n"
        f"Written by multimodal_genre.data.synthetic (tracks_per_genre={tracks_per_genre}, seed={seed}) in the\n"
        "Kaggle GTZAN layout. Scores on it say nothing about real genre classification.\n\n"
        "Feature rows mostly encode a genre's family (pairs of genres in GENRES order); images mostly\n"
        "encode which member of the pair; fusing both views is needed to tell all ten genres apart.\n"
    )
