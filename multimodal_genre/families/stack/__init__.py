"""The stack's family: a weighted average of other models' probabilities.

A stack trains nothing of its own. ``compare`` builds it in each fold from the runs of its members,
fold-bagged models that sit beside it in the same folder, with weights chosen by greedy selection
(``selection.py``) on the members' out-of-fold predictions of the training rows; its run folder holds
the weights (``stack.json``), and loading it loads the members from their run folders next to it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multimodal_genre.errors import RunError
from multimodal_genre.families.bag import BAG_FILE, load_saved
from multimodal_genre.families.base import Family, TrainedModel
from multimodal_genre.families.registry import FAMILIES, family, register
from multimodal_genre.files import write_json
from multimodal_genre.settings import Problems, Settings

if TYPE_CHECKING:
    from multimodal_genre.data import GenreDataset, Split, Tracks

STACK_FILE = "stack.json"


@dataclasses.dataclass(frozen=True)
class StackConfig(Settings):
    """Which models a stack averages, and how its weights are chosen."""

    members: tuple[str, ...]  # fold-bagged models: their out-of-fold and test predictions come from the same models
    rounds: int  # greedy selection steps; a member may be picked in many, its weight is its share

    def problems(self) -> Problems:
        if len(self.members) < 2:
            yield "members", f"must name at least two models, got {list(self.members)}"
        if len(set(self.members)) != len(self.members):
            yield "members", f"must not repeat a model, got {list(self.members)}"
        if self.rounds < 1:
            yield "rounds", f"must be at least 1, got {self.rounds}"


@dataclasses.dataclass(frozen=True)
class Stack:
    """Weights by member name, and the members' models (loaded only to predict new tracks)."""

    weights: dict[str, float]
    models: dict[str, tuple[Family, Any]] = dataclasses.field(default_factory=dict)


class StackFamily(Family):
    """Stacks of the models named in their settings; ``compare`` builds them (see ``stacking.py``)."""

    name = "stack"
    settings = StackConfig
    views = ("image", "features")
    unit = "round"
    length_setting = "rounds"
    files = (STACK_FILE,)
    built_from_runs = True

    def problems(self, settings: StackConfig) -> Problems:
        for member in settings.members:
            if member not in FAMILIES or FAMILIES[member].built_from_runs:
                yield "members", f"'{member}' is not a model a stack can average (known: {', '.join(FAMILIES)})"

    def members(self, settings: StackConfig) -> tuple[str, ...]:
        return settings.members

    def migrate(self, section: Mapping[str, Any], where: str) -> Mapping[str, Any]:
        """Until its members were fold-bagged, a stack trained inner folds of its own (``folds``):
        the key is dropped."""
        if not isinstance(section, Mapping):
            return section
        return {key: value for key, value in section.items() if key != "folds"}

    def fit(
        self, settings: StackConfig, dataset: GenreDataset, split: Split, seed: int, callbacks: Sequence[Any] = ()
    ) -> TrainedModel:
        raise RunError(f"a stack is built from its members' runs: compare --models {' '.join(settings.members)} stack")

    def predict_proba(self, model: Stack, tracks: Tracks) -> np.ndarray:
        total = 0.0
        for name, weight in model.weights.items():
            owner, member = model.models[name]
            total = total + weight * owner.predict_proba(member, tracks)
        return np.asarray(total, dtype=np.float32)

    def save(self, model: Stack, directory: Path) -> None:
        write_json(directory / STACK_FILE, {"weights": model.weights})

    def load(self, directory: Path) -> Stack:
        path = directory / STACK_FILE
        try:
            weights = json.loads(path.read_text())["weights"]
            weights = {str(name): float(weight) for name, weight in weights.items() if weight > 0}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise RunError(f"{path}: not a stack's weights ({error})") from None
        models = {}
        for name in weights:
            owner = family(name)
            member_dir = directory.parent / name
            saved = (*owner.files, BAG_FILE)
            if not any((member_dir / file).is_file() for file in saved):
                raise RunError(f"{path}: the member run {member_dir} beside it has no {' or '.join(saved)}")
            models[name] = load_saved(owner, member_dir)
        return Stack(weights, models)


register(StackFamily())
