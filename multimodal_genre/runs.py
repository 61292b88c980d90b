"""Run folders: everything one trained model leaves behind, and reading a model back from it.

A model run folder holds ``run.json`` (its record: what, when, on which data and split, with which
library versions), ``config.yaml`` (the full resolved config), the model in its family's own
format (``model.keras``, ``model.json``; a bag's members each in a ``member<k>/`` folder), the
training history and learning curves, the test predictions, ``metrics.json``, the per-genre
classification report and the confusion matrix. ``split.csv`` gives every track's side and, for a
bag, each member's: which tracks the model has seen. Nothing in it is a pickle.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from multimodal_genre import workers
from multimodal_genre.config import Config, config_dict, load_run_config
from multimodal_genre.data import GENRES, GenreDataset, Split, Tracks
from multimodal_genre.errors import RunError
from multimodal_genre.evaluation import confusion, per_genre_report, score
from multimodal_genre.families import Family, TrainedModel, family
from multimodal_genre.families.bag import BAG_FILE, load_saved
from multimodal_genre.files import write_csv, write_folder, write_json, write_text, writing_folder
from multimodal_genre.plots import plot_confusion, plot_learning_curves
from multimodal_genre.records import (
    CONFIG_FILE,
    RUN_FILE,
    DatasetRecord,
    MemberRecord,
    ModelRecord,
    Provenance,
    SplitRecord,
    TrainingRecord,
    read_record,
    write_record,
)
from multimodal_genre.seen import OutOfFold, Seen

PROBABILITY_COLUMNS = [f"p_{genre}" for genre in GENRES]  # a predictions table's columns, in GENRES order
PREDICTIONS_FILE = "predictions.csv"
# A fold bag's probabilities for its training pool, each row from the member that held it out (its
# number in the ``member`` column): the rows a stack chooses its weights on.
OUT_OF_FOLD_FILE = "out_of_fold.csv"
SPLIT_FILE = "split.csv"
REPORT_ROWS = (*GENRES, "macro avg", "weighted avg")  # the classification report's rows


@dataclasses.dataclass(frozen=True)
class ModelRun:
    """A trained model read back from its run folder."""

    directory: Path
    record: ModelRecord
    config: Config
    family: Family  # the model's family, or that family bagged
    model: Any  # the family's own model object
    seen: Seen
    member_seen: tuple[Seen, ...]  # what each single model of a bag saw; () for one model

    @property
    def name(self) -> str:
        return self.family.name

    def predict_proba(self, tracks: Tracks) -> np.ndarray:
        """Genre probabilities (n, 10), rows in the order of the inputs, columns in GENRES order."""
        return self.family.predict_proba(self.model, tracks)


def write_config(directory: Path, config: Config) -> None:
    (directory / CONFIG_FILE).write_text(yaml.safe_dump(config_dict(config), sort_keys=False))


def write_model_run(
    directory: Path,
    trained: TrainedModel,
    config: Config,
    dataset: GenreDataset,
    split: Split,
    probabilities: np.ndarray,
    split_record: SplitRecord,
    provenance: Provenance,
) -> dict[str, float]:
    """Save the model, what it saw and every report of its test predictions; return the test metrics
    and, as ``f1_<genre>``, each genre's F1."""
    directory.mkdir(parents=True, exist_ok=True)
    title = f"{trained.name} ({'synthetic data' if dataset.synthetic else dataset.root.name})"
    trained.save(directory)
    write_config(directory, config)
    _write_training(directory, trained, dataset, split, title)
    metrics, report = _write_test_reports(directory, dataset, split, probabilities, title)
    training = TrainingRecord(
        seconds=round(trained.seconds, 2),
        unit=trained.unit,
        ran=len(trained.history),
        kept=trained.kept,
        threads=workers.threads(),
        members=tuple(map(_member_record, trained.singles() if trained.members else ())),
    )
    record = ModelRecord.new(
        command=provenance.command,
        recipe=provenance.recipe,
        dataset=DatasetRecord.of(dataset),
        model=trained.name,
        split=split_record,
        training=training,
        metrics=metrics,
    )
    write_record(directory, record)
    return _test_scores(metrics, report)


def _write_training(directory: Path, trained: TrainedModel, dataset: GenreDataset, split: Split, title: str) -> None:
    """The history and learning curves, every track's side (and each member's), and a fold bag's
    out-of-fold predictions."""
    trained.history.to_csv(directory / "history.csv", index=False)
    curves = [(single.history, single.kept) for single in trained.singles()]
    plot_learning_curves(directory / "learning_curves.png", curves, title)
    split_table(dataset, split, [single.seen for single in trained.singles()] if trained.members else ()).to_csv(
        directory / SPLIT_FILE, index=False
    )
    if trained.out_of_fold is not None:
        rows, oof = trained.out_of_fold.rows, trained.out_of_fold.probabilities
        table = predictions_table(dataset.track_ids[rows], dataset.labels[rows], oof)
        table.insert(1, "member", trained.out_of_fold.predicted_by + 1)
        table.to_csv(directory / OUT_OF_FOLD_FILE, index=False)


def _write_test_reports(
    directory: Path, dataset: GenreDataset, split: Split, probabilities: np.ndarray, title: str
) -> tuple[dict[str, float], dict]:
    """The test predictions, metrics, per-genre report and confusion matrix; returns the metrics and
    the report."""
    labels = dataset.labels[split.test]
    predictions_table(dataset.track_ids[split.test], labels, probabilities).to_csv(
        directory / PREDICTIONS_FILE, index=False
    )
    metrics = score(labels, probabilities)
    write_json(directory / "metrics.json", metrics)
    report = per_genre_report(labels, probabilities)
    write_classification_report(directory, report, title)
    counts = confusion(labels, probabilities)
    pd.DataFrame(counts, index=list(GENRES), columns=list(GENRES)).to_csv(directory / "confusion_matrix.csv")
    plot_confusion(directory / "confusion_matrix.png", counts, title)
    return metrics, report


def write_classification_report(directory: Path, report: Mapping, title: str) -> pd.DataFrame:
    """``report`` (``evaluation.per_genre_report``) as CSV, JSON and Markdown titled ``title``; returns the table."""
    table = pd.DataFrame(
        [{key: report[row][key] for key in ("precision", "recall", "f1-score", "support")} for row in REPORT_ROWS],
        index=pd.Index(REPORT_ROWS, name="genre"),
    )
    table["support"] = table["support"].astype(int)
    write_csv(directory / "classification_report.csv", table)
    write_json(directory / "classification_report.json", report)
    write_text(
        directory / "classification_report.md",
        f"# {title}\n\n{table.to_markdown(floatfmt='.3f')}\n\nAccuracy: {report['accuracy']:.3f}\n",
    )
    return table


def _member_record(member: TrainedModel) -> MemberRecord:
    at_kept = member.history.iloc[member.kept - 1]
    validation = {key: float(at_kept[key]) for key in member.history.columns if key.startswith("val")}
    return MemberRecord(
        seconds=round(member.seconds, 2), ran=len(member.history), kept=member.kept, validation=validation
    )


def write_run_files(directory: Path, files: Mapping[str, bytes]) -> None:
    """A run folder from its files (relative path -> content), put in place whole (``writing_folder``)."""
    with writing_folder(directory) as partial:
        write_folder(partial, files)


def finished_run_scores(
    directory: Path, name: str, config: Config, dataset: GenreDataset, split: Split
) -> tuple[dict[str, float], float] | None:
    """The test scores (as ``write_model_run`` returns them) and training seconds of a model run that
    finished in ``directory``, or None where none did; so an interrupted comparison can go on where
    it stopped. A finished run of another model, config, dataset or split is an error, never reused."""
    if not (directory / RUN_FILE).is_file():
        return None
    record = read_model_record(directory)
    sides = pd.read_csv(directory / SPLIT_FILE, keep_default_na=False)
    expected = split_table(dataset, split)
    problems = [
        *([] if record.model == name else [f"a {record.model} model, not {name}"]),
        *(
            []
            if load_run_config(directory / CONFIG_FILE).for_model(name) == config.for_model(name)
            else ["another config"]
        ),
        *([] if record.dataset.fingerprint == dataset.fingerprint else ["another dataset"]),
        *([] if sides[["track", "side"]].equals(expected[["track", "side"]]) else ["another split"]),
    ]
    if problems:
        raise RunError(f"{directory}: a finished run that cannot be reused: {', '.join(problems)}")
    report = json.loads((directory / "classification_report.json").read_text())
    return _test_scores(record.metrics, report), record.training.seconds


def read_model_record(directory: Path) -> ModelRecord:
    """The record of a single model's run folder; a comparison or a study is refused with a pointer
    to the model runs inside it."""
    record = read_record(directory)
    if not isinstance(record, ModelRecord):
        models = sorted(path.name for path in directory.iterdir() if (path / RUN_FILE).is_file())
        hint = f"; its model runs are in: {', '.join(models)}" if models else ""
        raise RunError(f"{directory}: a {record.kind} folder, not a single model's run{hint}")
    return record


def load_model_run(directory: str | Path) -> ModelRun:
    """Read a trained model (one, or a bag of them), its config and what it saw back from a model run folder."""
    directory = Path(directory)
    record = read_model_record(directory)
    owner = family(record.model)
    missing = [name for name in owner.files if not (directory / name).is_file()]
    if missing and not (directory / BAG_FILE).is_file():
        raise RunError(f"{directory}: the {owner.name} model's {', '.join(missing)} is missing")
    config = load_run_config(directory / CONFIG_FILE)
    loaded, model = load_saved(owner, directory)
    seen, member_seen = read_seen(directory)
    return ModelRun(directory, record, config, loaded, model, seen, member_seen)


def read_seen(directory: Path) -> tuple[Seen, tuple[Seen, ...]]:
    """What the model of a run folder saw (its split's training and validation sides) and, for a
    bag, what each of its single models saw (``split.csv``'s ``member<k>`` columns)."""
    path = directory / SPLIT_FILE
    try:
        table = pd.read_csv(path, keep_default_na=False, dtype=str)
        member_seen = tuple(
            _seen(table, column) for column in table.columns if column.startswith("member") and column[6:].isdigit()
        )
        return (Seen.union(member_seen) if member_seen else _seen(table, "side")), member_seen
    except (OSError, ValueError, KeyError) as error:
        raise RunError(f"{path}: cannot read which tracks the model saw ({error})") from None


def read_out_of_fold(directory: Path, dataset: GenreDataset) -> OutOfFold | None:
    """A fold bag's out-of-fold predictions as ``_write_training`` wrote them (``out_of_fold.csv``),
    with what each member saw; None for a run that has none (not fold-bagged)."""
    path = directory / OUT_OF_FOLD_FILE
    _, member_seen = read_seen(directory)
    if not member_seen or not path.is_file():
        return None
    table = pd.read_csv(path)
    rows = pd.Series(np.arange(len(dataset)), index=dataset.track_ids)
    if not set(table["track"]) <= set(rows.index):
        raise RunError(f"{path}: tracks that are not this dataset's")
    table = table.assign(row=rows[table["track"]].to_numpy()).sort_values("row")
    probabilities = table[PROBABILITY_COLUMNS].to_numpy(dtype=np.float64)
    return OutOfFold(table["row"].to_numpy(), probabilities, table["member"].to_numpy() - 1, member_seen)


def _seen(table: pd.DataFrame, column: str) -> Seen:
    return Seen(
        frozenset(table.loc[table[column] == "train", "track"]),
        frozenset(table.loc[table[column] == "validation", "track"]),
    )


def predictions_table(track_ids: np.ndarray, labels: np.ndarray, probabilities: np.ndarray) -> pd.DataFrame:
    """One row per track: id, true and predicted genre, then the probability of each genre."""
    table = pd.DataFrame(probabilities, columns=PROBABILITY_COLUMNS)
    table.insert(0, "track", track_ids)
    table.insert(1, "true_genre", [GENRES[code] for code in labels])
    table.insert(2, "predicted_genre", [GENRES[code] for code in probabilities.argmax(axis=1)])
    return table


def split_table(dataset: GenreDataset, split: Split, member_seen: Sequence[Seen] = ()) -> pd.DataFrame:
    """Every track's side (train, validation, test, unused) and duplicate group and, for a bag, its
    side for each member (``member<k>``: train, validation or unused)."""
    side = np.full(len(dataset), "unused", dtype=object)
    side[split.train], side[split.validation], side[split.test] = "train", "validation", "test"
    table = pd.DataFrame({"track": dataset.track_ids, "group": dataset.groups, "side": side})
    for index, seen in enumerate(member_seen, start=1):
        table[f"member{index}"] = [
            "train" if track in seen.trained else "validation" if track in seen.watched else "unused"
            for track in dataset.track_ids
        ]
    return table


def _test_scores(metrics: Mapping[str, float], report: Mapping) -> dict[str, float]:
    """The metrics and, as ``f1_<genre>``, each genre's F1 from the classification report."""
    return {**metrics, **{f"f1_{genre}": report[genre]["f1-score"] for genre in GENRES}}
