"""The Kaggle GTZAN folder layout: file names, CSV columns and the fixed genre order.

This is the format of the files, not a setting: a dataset made by other means (the synthetic
generator, audio extraction) writes exactly this layout so that every command can read it.
"""

from __future__ import annotations

import re
from pathlib import Path

FEATURES_CSV = "features_30_sec.csv"
IMAGES_DIR = "images_original"
AUDIO_DIR = "genres_original"  # each track's audio, where the download has it (the full Kaggle one does)
# The Kaggle spectrogram PNG: 432x288 RGBA, the plot inside these inclusive pixel ranges, a blank
# white border around it.
IMAGE_SIZE = (432, 288)
PLOT_ROWS = (35, 252)
PLOT_COLS = (54, 389)
CLIP_SAMPLES = 661794  # the CSV length of most GTZAN clips: 30 s at 22,050 Hz

# Label codes are positions in this tuple (GTZAN's alphabetical order); saved models and reports
# depend on it, so it never changes.
GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)

_SPECTRAL = (
    "chroma_stft",
    "rms",
    "spectral_centroid",
    "spectral_bandwidth",
    "rolloff",
    "zero_crossing_rate",
    "harmony",
    "perceptr",
)
# The 57 model features, in CSV order: mean and variance of 8 spectral descriptors, the tempo,
# and mean and variance of 20 MFCCs.
FEATURE_COLUMNS: tuple[str, ...] = (
    *(f"{name}_{stat}" for name in _SPECTRAL for stat in ("mean", "var")),
    "tempo",
    *(f"mfcc{i}_{stat}" for i in range(1, 21) for stat in ("mean", "var")),
)
# The 28 variance columns, whose values span orders of magnitude: models take their log.
VARIANCE_COLUMNS: tuple[int, ...] = tuple(index for index, name in enumerate(FEATURE_COLUMNS) if name.endswith("_var"))
# `filename` identifies the track and `length` is the sample count; neither is a model feature.
CSV_COLUMNS: tuple[str, ...] = ("filename", "length", *FEATURE_COLUMNS, "label")

_GTZAN_NAME = re.compile(r"(?P<genre>[a-z]+)\.\d{5}\.wav")


def gtzan_genre(filename: str) -> str | None:
    """The genre a GTZAN file name carries (``blues.00000.wav`` -> ``blues``); None for any other name."""
    match = _GTZAN_NAME.fullmatch(filename)
    return match["genre"] if match else None


def label_problem(filename: str, label: str) -> str | None:
    """Why ``label`` cannot be the genre of ``filename``, or None: one rule for reading a CSV and for
    adding a track to one. A GTZAN name carries its genre, and its image folder is named by it."""
    if label not in GENRES:
        return f"unknown genre {label!r} (known: {', '.join(GENRES)})"
    named = gtzan_genre(filename)
    if named is not None and named != label:
        return f"label {label!r} disagrees with its file name and image folder {named!r}"
    return None


def is_audio_name(filename: str) -> bool:
    """A plain file name with an extension (``blues.00000.wav``, ``My Song.flac``), no folder part."""
    return "/" not in filename and "\\" not in filename and bool(image_stem(filename)) and bool(Path(filename).suffix)


def image_stem(filename: str) -> str:
    """The Kaggle rule for an image's name: the audio name without its extension and dots
    (``blues.00000.wav`` -> ``blues00000``), which serves any audio name (``My Song.flac`` -> ``My Song``)."""
    return Path(filename).stem.replace(".", "")


def track_id(filename: str) -> str:
    """``blues.00000.wav`` -> ``blues.00000``: the name reports and predictions use."""
    return Path(filename).stem


def audio_path(root: Path, label: str, filename: str) -> Path:
    """``blues``, ``blues.00000.wav`` -> ``<root>/genres_original/blues/blues.00000.wav``."""
    return root / AUDIO_DIR / label / filename


def image_path(root: Path, label: str, filename: str) -> Path:
    """``blues``, ``blues.00000.wav`` -> ``<root>/images_original/blues/blues00000.png``."""
    return root / IMAGES_DIR / label / f"{image_stem(filename)}.png"
