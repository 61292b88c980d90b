"""What a report is made of, read from run folders alone: no dataset, no model, no re-training.

A folder named on the command line is a *source*: a model run, a comparison (hold-out or K-fold) or
a tuning study (whose re-trained final run it holds). Each model evaluated in a source becomes an
*entry*, one column of the report's tables; entries tested on exactly the same tracks form a
*group*, because only their scores are comparable side by side.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from multimodal_genre.data import GENRES
from multimodal_genre.errors import RunError
from multimodal_genre.evaluation import METRICS
from multimodal_genre.records import (
    CONFIG_FILE,
    RUN_FILE,
    ComparisonRecord,
    ModelRecord,
    RunRecord,
    StudyRecord,
    read_record,
)

STUDY_PLOTS = ("optimization_history", "param_importances", "parallel_coordinate")
OUTER_FOLDS_FILE = "outer_folds.csv"  # beside the studies of ``tune --outer-folds``


@dataclasses.dataclass(frozen=True)
class ModelResult:
    """One trained model's test results, as its run folder holds them."""

    directory: Path
    record: ModelRecord
    per_genre: pd.DataFrame  # index GENRES; precision, recall, f1-score, support
    confusion: np.ndarray  # rows: true genres, columns: predicted
    history: pd.DataFrame
    test_tracks: frozenset[str]
    predictions: pd.DataFrame  # index track; true_genre, predicted_genre and a p_<genre> column per genre

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def metrics(self) -> dict[str, float]:
        return self.record.metrics

    def curves(self) -> list[tuple[pd.DataFrame, int]]:
        """The history and kept step of each single model: the run's own, or each member's of a bag."""
        members = self.record.training.members
        if not members or "member" not in self.history:
            return [(self.history, self.record.training.kept)]
        return [
            (self.history[self.history["member"] == index].drop(columns="member"), member.kept)
            for index, member in enumerate(members, start=1)
        ]


@dataclasses.dataclass(frozen=True)
class StudyFolder:
    """A tuning study's summary and the plots it left."""

    record: StudyRecord
    plots: dict[str, Path]


@dataclasses.dataclass(frozen=True)
class Source:
    """A folder named on the command line."""

    directory: Path
    record: RunRecord  # its run.json
    config: str  # the YAML it ran with (tuned.yaml for a study)
    results: dict[str, list[ModelResult]]  # model -> one result, or one per fold
    study: StudyFolder | None = None

    @property
    def name(self) -> str:
        """The folder's name without its time stamp."""
        name = self.directory.resolve().name
        parts = name.split("-", 2)
        return parts[2] if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() else name

    @functools.cached_property
    def _named_from(self) -> Path:
        """Where the folder's name starts: its parent or, for a model run inside a comparison, the
        comparison's parent (a bare ``cnn`` does not say which run it is)."""
        directory = self.directory.resolve()
        outer = [parent for parent in directory.parents[:2] if (parent / RUN_FILE).is_file()]
        return outer[-1].parent if outer else directory.parent

    @property
    def folder(self) -> str:
        """How the tables name the folder: its path from ``location``."""
        return self.directory.resolve().relative_to(self._named_from).as_posix()

    @property
    def location(self) -> Path:
        """The folder that holds ``folder``, relative to the working directory."""
        return Path(os.path.relpath(self._named_from))

    @property
    def synthetic(self) -> bool:
        return self.record.dataset.synthetic


@dataclasses.dataclass(frozen=True)
class Entry:
    """One model evaluated one way: a column of the report's tables."""

    label: str
    source: Source
    model: str
    results: list[ModelResult]  # one, or one per fold

    @property
    def folds(self) -> int | None:
        """The number of cross-validation folds, None for a single test split."""
        return len(self.results) if len(self.results) > 1 else None

    @property
    def score(self) -> float:
        """Mean test macro-F1 over its results: what entries are ranked by."""
        return float(self.metric_table()["macro_f1"].mean())

    def metric_table(self) -> pd.DataFrame:
        """The test metrics, one row per fold (or one row)."""
        return pd.DataFrame([result.metrics for result in self.results], columns=list(METRICS))

    def f1_table(self) -> pd.DataFrame:
        """Per-genre F1, one column per fold (or one column)."""
        return pd.concat([result.per_genre["f1-score"] for result in self.results], axis=1)

    def confusion(self) -> np.ndarray:
        """Counts summed over folds: with K-fold every track is tested exactly once."""
        return sum(result.confusion for result in self.results)

    def predictions(self) -> pd.DataFrame:
        """Every test track's prediction, each fold's tracks in turn (every track once with K-fold)."""
        return pd.concat([result.predictions for result in self.results])

    def per_genre(self) -> pd.DataFrame:
        """Precision, recall and F1 per genre, mean ± standard deviation over folds, and the support summed."""
        tables = [result.per_genre for result in self.results]
        text = {
            name: pd.concat([table[column] for table in tables], axis=1).apply(mean_std, axis=1)
            for name, column in (("precision", "precision"), ("recall", "recall"), ("F1", "f1-score"))
        }
        frame = pd.DataFrame(text)
        frame["support"] = sum(table["support"].astype(int) for table in tables)
        frame.index.name = "genre"
        return frame


@dataclasses.dataclass(frozen=True)
class Group:
    """Entries tested on the same tracks, so their scores compare."""

    title: str
    entries: list[Entry]


def read_sources(directories: Sequence[Path]) -> list[Source]:
    """Every folder read and checked before anything is written; the first problem is an error
    naming the folder or file. A folder named twice is read once; the folder of a study over outer
    folds stands for its studies, one per fold."""
    if not directories:
        raise RunError("name at least one run folder")
    unique: dict[Path, Path] = {}
    for directory in directories:
        for folder in _outer_studies(Path(directory)) or [Path(directory)]:
            unique.setdefault(folder.resolve(), folder)
    return [_read_source(directory) for directory in unique.values()]


def outer_tables(directories: Sequence[Path]) -> dict[str, pd.DataFrame]:
    """The summary (``outer_folds.csv``) of each folder named that holds a study over outer folds."""
    return {
        Path(directory).name: _read_csv(Path(directory) / OUTER_FOLDS_FILE)
        for directory in directories
        if _outer_studies(Path(directory))
    }


def _outer_studies(directory: Path) -> list[Path]:
    """The study folder of each outer fold, where ``directory`` holds a study over outer folds."""
    if (directory / RUN_FILE).is_file() or not (directory / OUTER_FOLDS_FILE).is_file():
        return []
    return sorted(
        (path for path in directory.glob("outer*") if (path / RUN_FILE).is_file()), key=lambda path: int(path.name[5:])
    )


def groups_of(sources: Sequence[Source]) -> list[Group]:
    """Each model of each source as an entry, grouped by the exact tracks it was tested on, groups in
    order of first appearance, entries best first (``Entry.score``). Within a group an entry is
    labelled by its model (" (tuned)" for a study's run); a model that comes again is told apart by
    its folder's name."""
    grouped: dict[str, list[Entry]] = {}
    for source in sources:
        for model, results in source.results.items():
            members = grouped.setdefault(_tested_on(results), [])
            name = model + (" (tuned)" if source.study else "")
            taken = {entry.label for entry in members}
            label = next(
                candidate
                for candidate in (name, f"{name} · {source.name}", f"{name} · {source.directory}")
                if candidate not in taken
            )
            members.append(Entry(label, source, model, results))
    ranked = [sorted(members, key=lambda entry: -entry.score) for members in grouped.values()]
    return [Group(_group_title(members[0]), members) for members in ranked]


def _read_source(directory: Path) -> Source:
    record = read_record(directory)
    if isinstance(record, ModelRecord):
        result = _read_model_result(directory, record)
        return Source(directory, record, _read_text(directory / CONFIG_FILE), {result.model: [result]})
    if isinstance(record, ComparisonRecord):
        places = [Path()] if record.folds is None else [Path(f"fold{index}") for index in range(1, record.folds + 1)]
        results = {
            model: [_read_model_result(directory / place / model) for place in places] for model in record.models
        }
        return Source(directory, record, _read_text(directory / CONFIG_FILE), results)
    final = _read_model_result(directory / record.final_run)
    plots = {name: directory / f"{name}.png" for name in STUDY_PLOTS if (directory / f"{name}.png").is_file()}
    return Source(
        directory, record, _read_text(directory / "tuned.yaml"), {final.model: [final]}, StudyFolder(record, plots)
    )


def _read_model_result(directory: Path, record: RunRecord | None = None) -> ModelResult:
    record = record or read_record(directory)
    if not isinstance(record, ModelRecord):
        raise RunError(f"{directory}: expected a model's run folder, found kind {record.kind!r}")
    report = json.loads(_read_text(directory / "classification_report.json"))
    missing = [genre for genre in GENRES if genre not in report]
    if missing:
        raise RunError(f"{directory / 'classification_report.json'}: no row for {', '.join(missing)}")
    per_genre = pd.DataFrame({genre: report[genre] for genre in GENRES}).T
    confusion = _read_csv(directory / "confusion_matrix.csv", index_col=0)
    if list(confusion.index) != list(GENRES) or list(confusion.columns) != list(GENRES):
        raise RunError(f"{directory / 'confusion_matrix.csv'}: rows and columns are not the ten genres in order")
    split = _read_csv(directory / "split.csv")
    return ModelResult(
        directory=directory,
        record=record,
        per_genre=per_genre,
        confusion=confusion.to_numpy(dtype=int),
        history=_read_csv(directory / "history.csv"),
        test_tracks=frozenset(split.loc[split["side"] == "test", "track"]),
        predictions=_read_csv(directory / "predictions.csv", index_col="track"),
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise RunError(f"{path}: cannot read ({error.strerror or error})") from None


def _read_csv(path: Path, **options) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **options)
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: cannot read ({error})") from None


def mean_std(values: pd.Series) -> str:
    """``0.812 ± 0.031`` over folds, or ``0.812`` for one value."""
    return f"{values.mean():.3f}" + (f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else "")


def _tested_on(results: Sequence[ModelResult]) -> str:
    folds = sorted("\n".join(sorted(result.test_tracks)) for result in results)
    return hashlib.sha256("\f".join(folds).encode()).hexdigest()


def _group_title(entry: Entry) -> str:
    split = entry.results[0].record.split
    tracks = sum(len(result.test_tracks) for result in entry.results)
    if entry.folds:
        return f"Grouped {entry.folds}-fold cross-validation (split seed {split.seed}): {tracks} test tracks in all"
    if split.kind == "kfold":
        return f"Fold {split.fold} of {split.folds} (split seed {split.seed}): {tracks} test tracks"
    if split.kind == "lists":
        where = "the fault-filtered GTZAN split" if split.lists == "fault-filtered" else f"the lists in {split.lists}"
        return f"Test list of {where}: {tracks} test tracks"
    return f"Hold-out split (seed {split.seed}): {tracks} test tracks"
