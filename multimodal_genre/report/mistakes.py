"""The test tracks a model got wrong with the most confidence, and their pictures.

A confident mistake is worth a look: a mislabelled track, a song that sits between two genres, or a
view the model misreads. The pictures come from the dataset folder the run recorded, where it still
is (a report is made from run folders alone, so a moved dataset leaves the table without them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from multimodal_genre.data.layout import PLOT_COLS, PLOT_ROWS, image_path
from multimodal_genre.report.sources import Entry

SHOWN = 8  # mistakes a model
THUMBNAIL = (168, 108)  # pixels: the plot area of a Kaggle picture, at half its size


def confident_mistakes(entry: Entry, count: int = SHOWN) -> pd.DataFrame:
    """The ``count`` wrongly predicted test tracks with the highest probability on the predicted
    genre: track, true and predicted genre, and the probabilities of both."""
    table = entry.predictions()
    wrong = table[table["true_genre"] != table["predicted_genre"]]
    predicted = _probability(wrong, wrong["predicted_genre"])
    frame = pd.DataFrame(
        {
            "true genre": wrong["true_genre"],
            "predicted": wrong["predicted_genre"],
            "p(predicted)": predicted,
            "p(true)": _probability(wrong, wrong["true_genre"]),
        }
    )
    frame = frame.iloc[np.argsort(-predicted, kind="stable")[:count]]
    frame.index.name = "track"
    return frame


def thumbnail(entry: Entry, track: str, genre: str, out: Path) -> Path | None:
    """The plot area of ``track``'s picture, at half size, written to ``out``; None where the
    dataset the run recorded is not where it was (or has no such picture)."""
    root = Path(entry.results[0].record.dataset.root)
    path = image_path(root, genre, f"{track}.wav")
    if not path.is_file():
        return None
    (top, bottom), (left, right) = PLOT_ROWS, PLOT_COLS
    with Image.open(path) as picture:
        picture.convert("RGB").crop((left, top, right + 1, bottom + 1)).resize(THUMBNAIL).save(out)
    return out


def _probability(table: pd.DataFrame, genres: pd.Series) -> np.ndarray:
    """Each row's probability of the genre ``genres`` names for it."""
    return np.array([table.at[track, f"p_{genre}"] for track, genre in genres.items()], dtype=float)
