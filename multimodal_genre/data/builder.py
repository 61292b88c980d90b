"""Growing a dataset folder in the Kaggle GTZAN layout one track at a time, as ``extract`` does.

Each track adds its PNG first and then rewrites ``features_30_sec.csv`` through a temporary file
that replaces the old one in one step: a failure part-way leaves every track written before it
readable, and never a half-written CSV.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from PIL import Image

from multimodal_genre.data.layout import CSV_COLUMNS, FEATURE_COLUMNS, FEATURES_CSV, image_path, label_problem
from multimodal_genre.errors import DataError


def dataset_filenames(root: Path) -> set[str]:
    """The file names already in ``root``'s CSV (none if there is no CSV yet)."""
    return set(_read_rows(root)["filename"])


def check_track(root: Path, filename: str, label: str, taken: set[str]) -> None:
    """Refuse, before any work, a track ``root`` could not take: its name among ``taken`` (the names
    already there), an unknown label, or a GTZAN file name of another genre than its label."""
    problem = label_problem(filename, label) if label else None
    if problem:
        raise DataError(f"{filename}: {problem}")
    if filename in taken:
        raise DataError(f"{root / FEATURES_CSV}: already has a track named {filename}")


def add_track(
    root: Path, filename: str, length: int, features: Mapping[str, float], label: str, image: Image.Image
) -> Path:
    """Add one track's row and picture to the dataset at ``root``; return the picture's path.
    ``label`` may be empty (an unlabelled track, for prediction only): its picture then goes straight
    into images_original/."""
    rows = _read_rows(root)
    check_track(root, filename, label, set(rows["filename"]))
    path = image_path(root, label, filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    row = {"filename": filename, "length": str(length), **{n: repr(features[n]) for n in FEATURE_COLUMNS}}
    rows = pd.concat([rows, pd.DataFrame([{**row, "label": label}])], ignore_index=True)
    staging = root / f".{FEATURES_CSV}.partial"
    rows[list(CSV_COLUMNS)].to_csv(staging, index=False, lineterminator="\r\n")  # CRLF, as Kaggle's file
    os.replace(staging, root / FEATURES_CSV)
    return path


def _read_rows(root: Path) -> pd.DataFrame:
    """The CSV's rows as written (strings), after checking it has the Kaggle columns."""
    path = root / FEATURES_CSV
    if not path.is_file():
        return pd.DataFrame(columns=list(CSV_COLUMNS))
    try:
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable features CSV ({type(error).__name__})") from None
    if list(rows.columns) != list(CSV_COLUMNS):
        raise DataError(f"{path}: not in the Kaggle GTZAN column layout, so extract will not add to it")
    return rows
