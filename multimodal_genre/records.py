"""``run.json``: what a run leaves behind, as one typed record written and read here only.

Every kind of run folder (a trained model, a comparison, a tuning study) holds a ``run.json`` with
the same header (format, kind, time, command, library versions, dataset, recipe) and the fields of
its kind. Records are checked when they are made and when they are read: an old, damaged or
foreign ``run.json`` is one error naming the file and the field.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeVar

from multimodal_genre import __version__
from multimodal_genre.data import GenreDataset, Split
from multimodal_genre.errors import ConfigError, RunError
from multimodal_genre.files import write_json
from multimodal_genre.settings import Problems, Settings, from_data, to_data

# Format 2: a bag's run holds its members' models in folders of their own, and its ``training.kept``
# is null (each member has its own). Format 1 folders read as they were written.
RUN_FORMAT = 2
READABLE_FORMATS = (1, 2)
RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"  # beside run.json: the complete config the run used
R = TypeVar("R", bound="RunRecord")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatasetRecord(Settings):
    root: str
    tracks: int
    fingerprint: str  # hash of the CSV and every image used
    synthetic: bool
    image_shape: tuple[int, ...]  # (height, width, channels) of the arrays the models saw

    @classmethod
    def of(cls, dataset: GenreDataset) -> DatasetRecord:
        return cls(
            root=str(dataset.root),
            tracks=len(dataset),
            fingerprint=dataset.fingerprint,
            synthetic=dataset.synthetic,
            image_shape=tuple(int(size) for size in dataset.images.shape[1:]),
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class SplitRecord(Settings):
    kind: Literal["holdout", "kfold", "lists"]
    fold: int | None  # 1-based, for K-fold
    folds: int | None
    seed: int
    train: int  # tracks on each side
    validation: int
    test: int
    lists: str | None = None  # for kind "lists": fault-filtered, or the folder of the lists

    @classmethod
    def of(cls, split: Split, seed: int, fold: tuple[int, int] | None, lists: str | None = None) -> SplitRecord:
        """``fold`` is (index, count) for a K-fold split, None for one split: the hold-out split, or
        the one ``lists`` names."""
        return cls(
            kind="kfold" if fold is not None else "holdout" if lists is None else "lists",
            fold=None if fold is None else fold[0],
            folds=None if fold is None else fold[1],
            seed=seed,
            train=len(split.train),
            validation=len(split.validation),
            test=len(split.test),
            lists=lists,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class MemberRecord(Settings):
    """How one member of a bag trained, and its validation figures at the step it kept."""

    seconds: float
    ran: int
    kept: int
    validation: dict[str, float]  # e.g. val_loss, val_accuracy; empty without a validation side


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingRecord(Settings):
    seconds: float
    unit: str  # "epoch", "round": the family's step
    ran: int  # a bag: over all its members
    # The 1-based step whose weights were kept; a bag: null, each member has its own (format 1: their sum).
    kept: int | None
    # Threads the training ran with: TensorFlow's sums depend on it, so equal seeds give equal figures
    # only at equal thread counts. None in runs written before it was recorded.
    threads: int | None = None
    members: tuple[MemberRecord, ...] = ()  # a bag's single models, in order


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecipeRecord(Settings):
    """A published system, as its recipe file describes it (``recipes.py``); a run made from it keeps
    it whole, so that a report sets the paper's figures beside ours."""

    name: str
    title: str
    reference: str  # the publication, in words
    model: str  # which of this package's models it configures
    # How the paper measured: on its validation or test split, one split or cross-validated.
    published_on: str
    # The paper's figures, under this package's metric names (accuracy, balanced_accuracy, macro_f1,
    # macro_precision, macro_recall, roc_auc_ovr, log_loss); empty where none compares.
    published: dict[str, float]
    differences: tuple[str, ...]  # what this reproduction cannot do as published, and why
    search: str | None  # a search file (under configs/recipes/) with the paper's explorations

    def problems(self) -> Problems:
        for name, value in self.published.items():
            if not 0.0 <= value <= 1.0 and name != "log_loss":
                yield f"published.{name}", f"must be a fraction between 0 and 1, got {value}"


@dataclasses.dataclass(frozen=True)
class Provenance:
    """What made a run, recorded in its ``run.json``: the command line, the published recipe its
    config came from, and its fold (index, count) of a K-fold split (None: the hold-out split)."""

    command: str | None = None
    recipe: RecipeRecord | None = None
    fold: tuple[int, int] | None = None

    def in_fold(self, fold: tuple[int, int] | None) -> Provenance:
        return dataclasses.replace(self, fold=fold)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SessionRecord(Settings):
    """What one ``tune`` process added to a study."""

    trials: int
    seconds: float
    trials_per_hour: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class DecisionRecord(Settings):
    """A study's winner weighed against the configured settings on the same inner folds, and which
    the study kept (``tuning/decision.py``)."""

    rule: str  # corrected_t, one_se or always
    level: float
    default_trial: int
    winner_trial: int
    default_score: float  # mean held-out macro-F1 over the inner folds
    winner_score: float
    difference: float  # winner minus configured, mean of the per-fold differences
    low: float  # the difference's interval; its low end is the one-sided bound at ``level``
    high: float
    p_value: float  # one-sided: that the winner is no better
    method: str  # how the noise was measured, in words
    adopted: bool  # the winner replaced the configured settings

    @property
    def kept(self) -> str:
        return "winner" if self.adopted else "configured"

    def words(self) -> str:
        """The decision in one sentence."""
        if self.winner_trial == self.default_trial:
            return "kept the configured settings: no trial beat them on the inner folds"
        test = self.method.split(" over ")[0]  # the corrected t-test, or the bootstrap on one split
        rule = {
            "corrected_t": f"the {test} at {self.level:g}, p {self.p_value:.3f}",
            "one_se": "the one-standard-error rule",
        }.get(self.rule, f"rule '{self.rule}'")
        if self.adopted:
            return f"took the winner (trial {self.winner_trial}): its gain passes {rule}"
        return f"kept the configured settings: the winner's gain is within the noise ({rule})"

    def interval_words(self) -> str:
        """``90% interval -0.010 to +0.018``: the interval whose low end is the one-sided bound."""
        return f"{round(100 * (1 - 2 * self.level))}% interval {self.low:+.3f} to {self.high:+.3f}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunRecord(Settings):
    """The header every run.json has; ``new`` fills in the format, the time and the versions."""

    format: int
    kind: Literal["model", "comparison", "study"]
    created: str  # ISO 8601, UTC
    command: str | None
    versions: dict[str, str]
    dataset: DatasetRecord
    recipe: RecipeRecord | None = None

    @classmethod
    def new(cls: type[R], **fields: Any) -> R:
        return cls(
            format=RUN_FORMAT,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            versions=library_versions(),
            **fields,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelRecord(RunRecord):
    """One trained model, scored once on its split's test side."""

    kind: Literal["model"] = "model"
    model: str
    split: SplitRecord
    training: TrainingRecord
    metrics: dict[str, float]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComparisonRecord(RunRecord):
    """Models trained on the same hold-out split (``folds`` None) or on each of K grouped folds."""

    kind: Literal["comparison"] = "comparison"
    models: tuple[str, ...]
    folds: int | None
    seconds: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyRecord(RunRecord):
    """A tuning study's summary; its best settings re-trained are the model run ``final_run``."""

    kind: Literal["study"] = "study"
    study: str
    model: str
    storage: str  # the storage URL, password hidden
    objective: str
    best_trial: int
    best_validation_macro_f1: float
    best_params: dict[str, Any]
    trials: dict[str, int]  # by state: complete, pruned, fail, running, waiting
    this_run: SessionRecord
    final_run: str  # the folder name, inside the study's folder
    test: dict[str, float]  # the re-trained model's test metrics
    # Studies before the configured settings were scored first have none of these.
    decision: DecisionRecord | None = None
    default_test_macro_f1: float | None = None  # the configured settings re-trained as the final model is
    winner_test_macro_f1: float | None = None


KINDS: dict[str, type[RunRecord]] = {"model": ModelRecord, "comparison": ComparisonRecord, "study": StudyRecord}


def write_record(directory: Path, record: RunRecord) -> None:
    """Written last and whole: a folder with ``run.json`` is a finished run."""
    write_json(directory / RUN_FILE, to_data(record))


def read_record(directory: Path) -> RunRecord:
    """``run.json`` of a run folder as the record of its kind; RunError names the file and the field."""
    path = directory / RUN_FILE
    if not directory.is_dir():
        raise RunError(f"{directory}: no such run folder")
    if not path.is_file():
        inside = sorted(child.name for child in directory.iterdir() if (child / RUN_FILE).is_file())
        hint = f"; the run folders in it: {', '.join(inside)}" if inside else ""
        raise RunError(f"{directory}: not a run folder (no {RUN_FILE}){hint}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"{path}: unreadable ({error})") from None
    if not isinstance(data, Mapping):
        raise RunError(f"{path}: not a run record (a JSON object), got {type(data).__name__}")
    if data.get("format") not in READABLE_FORMATS:
        formats = " and ".join(map(str, READABLE_FORMATS))
        raise RunError(
            f"{path}: run format {data.get('format')!r}, this version of multimodal-genre reads formats {formats}"
        )
    kind = KINDS.get(data["kind"]) if isinstance(data.get("kind"), str) else None
    if kind is None:
        raise RunError(f"{path}: 'kind' must be one of {', '.join(KINDS)}, got {data.get('kind')!r}")
    try:
        return from_data(kind, data, str(path))
    except ConfigError as error:
        raise RunError(str(error)) from None


def library_versions() -> dict[str, str]:
    """The versions a run was made with, read from the installed distributions (importing none)."""
    versions = {"multimodal_genre": __version__, "python": sys.version.split()[0]}
    for name, distributions in _LIBRARIES.items():
        versions[name] = next(filter(None, map(_installed, distributions)), "not installed")
    return versions


_LIBRARIES = {
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "keras": ("keras",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "scikit-learn": ("scikit-learn",),
    "numpy": ("numpy",),
    "pandas": ("pandas",),
}


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def portable_command(argv: list[str]) -> str:
    """``argv`` as a command line to record in a committed report: an absolute path under the
    working directory's parent is written relative to the working directory, so that the record
    reads the same on another machine (``--data ../shared/gtzan``, not this machine's full path)."""
    root = Path.cwd().parent
    words = [
        os.path.relpath(word) if os.path.isabs(word) and Path(word).is_relative_to(root) else word for word in argv
    ]
    return " ".join(words)
