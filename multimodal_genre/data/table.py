"""Reading and validating ``features_30_sec.csv``.

Every problem is reported with the file, the line (as an editor counts it: the header is line 1)
and the track, so a user can go straight to the bad cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from multimodal_genre.data.layout import CSV_COLUMNS, FEATURE_COLUMNS, image_path, is_audio_name, label_problem
from multimodal_genre.errors import DataError

_FIRST_DATA_LINE = 2


def read_features_table(path: Path) -> pd.DataFrame:
    """Return one validated row per track: ``filename``, ``label``, ``line``, ``length`` (samples) and
    the 57 features.

    Features are float64 exactly as written in the CSV, so identical rows stay identical.
    """
    if not path.is_file():
        raise DataError(f"{path}: features CSV not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as error:
        raise DataError(f"{path}: malformed CSV ({str(error).strip().splitlines()[-1]})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(raw.index, pd.RangeIndex):  # pandas takes a first column the header lacks as the index
        raise DataError(f"{path}: the rows have more fields than the header's {len(raw.columns)} columns")

    _check_columns(raw, path)
    if raw.empty:
        raise DataError(f"{path}: no data rows, only a header")
    lines = np.arange(len(raw)) + _FIRST_DATA_LINE
    features = _parse_features(raw, lines, path)
    _check_tracks(raw, lines, path)

    table = pd.DataFrame(features, columns=list(FEATURE_COLUMNS))
    table.insert(0, "filename", raw["filename"].to_numpy())
    table.insert(1, "label", raw["label"].to_numpy())
    table.insert(2, "line", lines)
    table.insert(3, "length", _parse_lengths(raw, lines, path))
    return table


def _parse_lengths(raw: pd.DataFrame, lines: np.ndarray, path: Path) -> np.ndarray:
    """The clips' lengths in samples: what maps a picture's columns to times (``musicnn/inputs.py``)."""
    lengths = pd.to_numeric(raw["length"], errors="coerce").to_numpy(np.float64)
    bad = ~(np.isfinite(lengths) & (lengths > 0) & (lengths == np.round(lengths)))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path} line {lines[row]} ({raw.at[row, 'filename']}): column 'length' must be a positive whole "
            f"number of samples, got {raw.at[row, 'length']!r}"
        )
    return lengths.astype(np.int64)


def _check_columns(raw: pd.DataFrame, path: Path) -> None:
    columns = [str(column) for column in raw.columns]
    missing = [column for column in CSV_COLUMNS if column not in columns]
    extra = [column for column in columns if column not in CSV_COLUMNS]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns: {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected columns: {', '.join(extra)}")
        raise DataError(f"{path}: {'; '.join(parts)} (expected the Kaggle GTZAN layout of {len(CSV_COLUMNS)} columns)")


def _parse_features(raw: pd.DataFrame, lines: np.ndarray, path: Path) -> np.ndarray:
    values = raw[list(FEATURE_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    row, col = np.argwhere(bad)[0]
    column = FEATURE_COLUMNS[col]
    cell = raw.at[row, column]
    if not cell.strip():
        problem = "is empty"
    else:
        try:
            float(cell)
        except ValueError:
            problem = f"is not a number: {cell!r}"
        else:
            problem = f"is {cell.strip()}; features must be finite numbers"
    more = int(bad.sum()) - 1
    also = f" ({more} more bad cells)" if more else ""
    raise DataError(f"{path} line {lines[row]} ({raw.at[row, 'filename']}): column '{column}' {problem}{also}")


def _check_tracks(raw: pd.DataFrame, lines: np.ndarray, path: Path) -> None:
    """Check file names and labels: a known genre, the genre a GTZAN name carries, one image per name."""
    for line, filename, label in zip(lines, raw["filename"], raw["label"], strict=True):
        where = f"{path} line {line}"
        if not is_audio_name(filename):
            raise DataError(f"{where}: filename {filename!r} is not an audio file name such as blues.00000.wav")
        if not label:
            raise DataError(f"{where} ({filename}): no label (give one with: multimodal-genre extract --label GENRE)")
        problem = label_problem(filename, label)
        if problem:
            raise DataError(f"{where} ({filename}): {problem}")
    pairs = zip(raw["filename"], raw["label"], strict=True)
    images = pd.Series([str(image_path(Path(), label, name)) for name, label in pairs])
    for keys, problem in (
        (raw["filename"], "filename {0!r} appears twice"),
        (images, "{0!r} and {1!r} would share the image {2}"),
    ):
        repeats = keys[keys.duplicated()]
        if len(repeats):
            first, second = np.flatnonzero(keys == repeats.iloc[0])[:2]
            names = raw["filename"]
            message = problem.format(names[first], names[second], keys[first])
            raise DataError(f"{path} lines {lines[first]} and {lines[second]}: {message}")
