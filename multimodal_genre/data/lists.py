"""Splits given as lists of tracks: the artist-filtered GTZAN split the literature reports on, or a
user's own.

The fault-filtered split of Kereliuk, Sturm and Larsen (2015) keeps every artist on one side, so it
measures what random folds, where an artist's other songs sit in the training rows, hide. Its three
lists ship with the package (``gtzan-fault-filtered/``, MIT licence, with their sources). A folder
of one's own holds three such files whose names start with ``train``, ``valid`` and ``test``: one
track a line, ``blues/blues.00029.wav``, ``blues.00029.wav`` or ``blues.00029``. Tracks in no list take no part; a
listed track the dataset lacks (``jazz.00054``, which has no picture) is left out.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np

from multimodal_genre.data.dataset import GenreDataset
from multimodal_genre.data.layout import track_id
from multimodal_genre.data.settings import SplitConfig
from multimodal_genre.data.splits import Split, holdout_split
from multimodal_genre.errors import ConfigError, DataError

FAULT_FILTERED = "fault-filtered"
SIDES = ("train", "valid", "test")


def split_for(dataset: GenreDataset, config: SplitConfig) -> Split:
    """The one split of a run without folds: the lists ``config.lists`` names, else the grouped
    stratified hold-out split."""
    if config.lists is None:
        return holdout_split(dataset.labels, dataset.groups, config)
    return listed_split(dataset.track_ids, dataset.groups, config.lists)


def list_folder(lists: str, key: str = "split.lists") -> Path:
    """The folder of the lists ``lists`` (given as ``key``) names: the shipped fault-filtered split,
    or a folder."""
    if lists == FAULT_FILTERED:
        return Path(str(files("multimodal_genre.data") / "gtzan-fault-filtered"))
    folder = Path(lists).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"{key}: {folder} is neither {FAULT_FILTERED} nor a folder of train/valid/test lists")
    return folder


def listed_split(track_ids: np.ndarray, groups: np.ndarray, lists: str) -> Split:
    """The rows of ``track_ids`` on each list's side; duplicate groups must not straddle two sides."""
    folder = list_folder(lists)
    position = {track: row for row, track in enumerate(track_ids)}
    sides, where = [], {}
    for side in SIDES:
        path = _list_file(folder, side)
        rows = []
        for line, name in _entries(path):
            name = Path(name).name
            track = name if Path(name).suffix[1:].isdigit() else track_id(name)  # blues.00029 has no extension
            if track in where:
                raise DataError(f"{path} line {line}: {track} is on the {where[track]} list too")
            where[track] = side
            if track in position:
                rows.append(position[track])
        if not rows:
            raise DataError(f"{path}: none of its tracks is in the dataset (names look like blues/blues.00029.wav)")
        sides.append(np.array(sorted(rows)))
    _check_groups(track_ids, groups, sides)
    return Split(train=sides[0], validation=sides[1], test=sides[2])


def _list_file(folder: Path, side: str) -> Path:
    found = sorted(path for path in folder.glob(f"{side}*.txt") if path.is_file())
    if len(found) != 1:
        raise DataError(f"{folder}: needs one list file named {side}*.txt, found {len(found)}")
    return found[0]


def _entries(path: Path) -> list[tuple[int, str]]:
    """(line number, track name) of each line that names a track."""
    return [(number, line.strip()) for number, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]


def _check_groups(track_ids: np.ndarray, groups: np.ndarray, sides: list[np.ndarray]) -> None:
    """Identical tracks on two sides would let a model be tested on what it trained on."""
    side_of = {}
    for index, rows in enumerate(sides):
        for row in rows:
            other = side_of.setdefault(groups[row], (index, row))
            if other[0] != index:
                first, second = track_ids[other[1]], track_ids[row]
                raise DataError(
                    f"{first} ({SIDES[other[0]]}) and {second} ({SIDES[index]}) are the same recording: "
                    "a duplicate group must stay on one side of the split"
                )
