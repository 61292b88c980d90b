"""Reading and validating ``features_30_sec.csv``.

Every problem is reported with the file, the line (as an editor counts it: the header is line 1)
and the track, so a user can go straight to the bad cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from multimodal_genre.data.layout import CSV_COLUMNS, FEATURE_COLUMNS, GENRES, parse_filename
from multimodal_genre.errors import DataError

_FIRST_DATA_LINE = 2


def read_features_table(path: Path) -> pd.DataFrame:
    """Return one validated row per track: ``filename``, ``label``, ``number``, ``line`` and the 57 features.

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

    _check_columns(raw, path)
    if raw.empty:
        raise DataError(f"{path}: no data rows, only a header")
    lines = np.arange(len(raw)) + _FIRST_DATA_LINE
    features = _parse_features(raw, lines, path)
    numbers = _check_tracks(raw, lines, path)

    table = pd.DataFrame(features, columns=list(FEATURE_COLUMNS))
    table.insert(0, "filename", raw["filename"].to_numpy())
    table.insert(1, "label", raw["label"].to_numpy())
    table.insert(2, "number", numbers)
    table.insert(3, "line", lines)
    return table


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


def _check_tracks(raw: pd.DataFrame, lines: np.ndarray, path: Path) -> list[str]:
    """Check file names and labels; return each track's five-digit number."""
    numbers = []
    for line, filename, label in zip(lines, raw["filename"], raw["label"], strict=True):
        where = f"{path} line {line}"
        parsed = parse_filename(filename)
        if parsed is None:
            raise DataError(f"{where}: filename {filename!r} is not of the form <genre>.<5 digits>.wav")
        genre, number = parsed
        if label not in GENRES:
            raise DataError(f"{where} ({filename}): unknown genre {label!r} (known: {', '.join(GENRES)})")
        if genre != label:
            raise DataError(
                f"{where} ({filename}): label {label!r} disagrees with its file name and image folder {genre!r}"
            )
        numbers.append(number)
    repeated = raw["filename"][raw["filename"].duplicated()]
    if len(repeated):
        name = repeated.iloc[0]
        first, second = lines[(raw["filename"] == name).to_numpy()][:2]
        raise DataError(f"{path} lines {first} and {second}: filename {name!r} appears twice")
    return numbers
