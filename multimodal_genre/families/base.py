"""What a model family offers the rest of the package.

A family is one kind of model (the Keras networks, XGBoost, ...) behind one small interface: fit on
a split with callbacks, predict genre probabilities, save into and load from a folder, and a
pruning callback for Optuna. Code that trains, saves, loads or tunes a model asks its family and
never tests the model's name, so a new family is one folder whose ``__init__`` declares its names.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from multimodal_genre.seen import OutOfFold, Seen
from multimodal_genre.settings import Problems, Settings, read_yaml

if TYPE_CHECKING:
    import optuna

    from multimodal_genre.data import GenreDataset, Labelled, Split, Tracks
    from multimodal_genre.musicnn import Embedding


class Predictor(abc.ABC):
    """What predicts with, saves and loads one kind of fitted model: a family, or a bag of its models."""

    name: str  # the model's name: its section under models:, its run folders, its rows in tables
    views: tuple[str, ...]  # what it reads of a track: "image", "features", "pretrained"
    unit: str  # one step of its training, as its history counts them: "epoch", "round", "fit"
    # The dotted setting that fixes how many units it trains (re-training a tuned model at the length
    # a trial kept); None where a training has no length to fix (a machine fitted in one solve).
    length_setting: str | None
    files: tuple[str, ...]  # what save() writes into a folder
    # Its models' colour in every chart, then shades of it for further runs of a model in one chart.
    shades: tuple[str, ...] = ()

    @abc.abstractmethod
    def predict_proba(self, model: Any, tracks: Tracks) -> np.ndarray:
        """Genre probabilities (n, 10), rows in the order of ``tracks``, columns in GENRES order."""

    @abc.abstractmethod
    def save(self, model: Any, directory: Path) -> None:
        """Write ``files`` into ``directory``, in a format that runs no code when loaded."""

    @abc.abstractmethod
    def load(self, directory: Path) -> Any:
        """The model that ``save`` wrote into ``directory``."""


class Family(Predictor):
    """One kind of model, fitted like a scikit-learn estimator: on the views and genres of its
    training rows, watching its validation rows where it is given some. The class attributes describe
    it; the methods do its work."""

    settings: type[Settings]  # the dataclass of its section under models:
    # Searched settings that stand for a list setting: list key -> (count key, size key, size ratio
    # from one entry to the next); a study searches the count and the first size.
    derived: Mapping[str, tuple[str, str, float]] = MappingProxyType({})
    # True for a model made of other models (``built_from``): a stack, fitted on their predictions.
    composite: bool = False

    def problems(self, settings: Settings) -> Problems:
        """(key, problem) for settings of the right type that this model still cannot use."""
        return iter(())

    def watches_validation(self, settings: Settings) -> bool:
        """Whether ``settings`` stop early on a split's validation rows; a model that stops early on
        nothing fits on them too (``training.fitting_split``) rather than leave them unused."""
        return True

    def embeddings(self, settings: Settings) -> tuple[Embedding, ...]:
        """The pre-trained views of the tracks its models read (``Tracks.embeddings``), computed
        before they train or predict; none for a family that reads only pictures and feature rows."""
        return ()

    def built_from(self, settings: Settings) -> tuple[str, ...]:
        """The models this one is made of (a stack's base models); () for a model of its own."""
        return ()

    def search_space(self, model: str) -> Mapping[str, Any]:
        """The search space of ``model`` for ``tune``, as its family's ``search.yaml`` gives it (a
        section per model it serves, beside its settings); empty where the family has none."""
        return self._search_file().get(model) or {}

    def pruning_warmup(self) -> int:
        """Steps of this family's unit a trial trains before it may be pruned (``warmup`` in its
        ``search.yaml``; 0 where it has none)."""
        return int(self._search_file().get("warmup") or 0)

    def searchable(self, key: str, section: Mapping[str, Any]) -> bool:
        """Whether the dotted setting ``key`` of a model's ``section`` (plain data) can be searched:
        a network's packaged space names settings of branches that a model may lack."""
        return True

    def _search_file(self) -> Mapping[str, Any]:
        """The ``search.yaml`` beside the module of this family's class, as plain data ({} where none)."""
        path = Path(inspect.getfile(type(self))).with_name("search.yaml")
        if not path.is_file():
            return {}
        return read_yaml(path, f"{type(self).__module__.rpartition('.')[0].replace('.', '/')}/search.yaml")

    def migrate(self, section: Mapping[str, Any], where: str) -> Mapping[str, Any]:
        """An older form of this family's section (``where`` names it in errors) as today's, so that
        old run folders still load; today's form passes unchanged."""
        return section

    @abc.abstractmethod
    def fit(
        self, settings: Settings, train: Labelled, validation: Labelled | None, seed: int, callbacks: Sequence[Any] = ()
    ) -> Fitted:
        """A model fitted on ``train``, stopping early on ``validation`` where it is given and the
        settings stop early (else it may only report a loss on it); ``callbacks`` (the family's own
        kind) see every step. It sees no other rows, so it cannot say which rows it saw: its caller does."""

    def step_loggers(self, directory: Path) -> Sequence[Any]:
        """Callbacks of the family's own kind that write each step of a training into ``directory`` as
        TensorBoard reads it; none where the family has no such writer."""
        return ()

    def pruning_callback(self, trial: optuna.Trial, settings: Settings) -> Any | None:
        """optuna-integration's callback that reports a rising validation figure to ``trial`` at each
        step and prunes it; None where the family cannot be pruned."""
        return None


@dataclasses.dataclass(frozen=True)
class Fitted:
    """What a family's ``fit`` gives back: its own model object and what its training did."""

    model: Any  # the family's own model object (a keras.Model, an xgboost.XGBClassifier, ...)
    history: pd.DataFrame  # first column the family's unit ("epoch", "round"), then the losses
    kept: int  # the 1-based step whose weights were kept
    seconds: float


@dataclasses.dataclass
class TrainedModel:
    """A fitted model, what its training did and which tracks it saw."""

    family: Predictor
    model: Any  # the family's own model object (a keras.Model, an xgboost.XGBClassifier, a Bag, ...)
    history: pd.DataFrame  # first column the family's unit ("epoch", "round"), then the losses
    kept: int | None  # the 1-based step whose weights were kept; None for a bag (each member has its own)
    seconds: float
    seen: Seen
    members: tuple[TrainedModel, ...] = ()  # a bag's members, each with its own history and rows
    out_of_fold: OutOfFold | None = None  # a fold bag's predictions of its pool, by members that held them out

    @property
    def name(self) -> str:
        return self.family.name

    @property
    def unit(self) -> str:
        return str(self.history.columns[0])

    def singles(self) -> tuple[TrainedModel, ...]:
        """The single models this one is made of: itself, or every member of a bag (of bags)."""
        return tuple(single for member in self.members for single in member.singles()) if self.members else (self,)

    def predict_proba(self, tracks: Tracks) -> np.ndarray:
        return self.family.predict_proba(self.model, tracks)

    def save(self, directory: Path) -> None:
        self.family.save(self.model, directory)


def fit_split(
    family: Family, settings: Settings, dataset: GenreDataset, split: Split, seed: int, callbacks: Sequence[Any] = ()
) -> TrainedModel:
    """``family``'s model fitted on ``split``'s training rows, given its validation rows where it has
    some; what it saw is recorded here, from the rows it was handed (the validation rows as watched)."""
    validation = dataset.labelled(split.validation) if len(split.validation) else None
    fitted = family.fit(settings, dataset.labelled(split.train), validation, seed, callbacks)
    seen = Seen.of(dataset, split.train, split.validation)
    return TrainedModel(family, fitted.model, fitted.history, fitted.kept, fitted.seconds, seen)
