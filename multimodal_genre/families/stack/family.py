"""The stack's family (``StackFamily``), registered when the stack is first asked for."""

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

    base_models: tuple[str, ...]  # fold-bagged models: their out-of-fold and test predictions come from the same models
    rounds: int  # greedy selection steps; a member may be picked in many, its weight is its share

    def problems(self) -> Problems:
        if len(self.base_models) < 2:
            yield "base_models", f"must name at least two models, got {list(self.base_models)}"
        if len(set(self.base_models)) != len(self.base_models):
            yield "base_models", f"must not repeat a model, got {list(self.base_models)}"
        if self.rounds < 1:
            yield "rounds", f"must be at least 1, got {self.rounds}"


@dataclasses.dataclass(frozen=True)
class Stack:
    """Weights by base model, and the base models themselves (loaded only to predict new tracks)."""

    weights: dict[str, float]
    models: dict[str, tuple[Family, Any]] = dataclasses.field(default_factory=dict)


class StackFamily(Family):
    """Stacks of the models named in their settings; ``compare`` builds them (see ``stacking.py``)."""

    name = "stack"
    settings = StackConfig
    views = ("image", "features")
    unit = "round"
    shades = ("#e377c2", "#f7b6d2", "#9c2f7d", "#ee9ad5", "#5a1a48")
    length_setting = "rounds"
    files = (STACK_FILE,)
    built_from_runs = True

    def problems(self, settings: StackConfig) -> Problems:
        for base in settings.base_models:
            if base not in FAMILIES or FAMILIES[base].built_from_runs:
                yield "base_models", f"'{base}' is not a model a stack can average (known: {', '.join(FAMILIES)})"

    def built_from(self, settings: StackConfig) -> tuple[str, ...]:
        return settings.base_models

    def migrate(self, section: Mapping[str, Any], where: str) -> Mapping[str, Any]:
        """Until its base models were fold-bagged, a stack trained inner folds of its own (``folds``):
        the key is dropped; until the glossary kept ``members`` for a bag's, they were its ``members``."""
        if not isinstance(section, Mapping):
            return section
        renamed = {"members": "base_models"}
        return {renamed.get(key, key): value for key, value in section.items() if key != "folds"}

    def fit(
        self, settings: StackConfig, dataset: GenreDataset, split: Split, seed: int, callbacks: Sequence[Any] = ()
    ) -> TrainedModel:
        raise RunError(
            f"a stack is built from its base models' runs: compare --models {' '.join(settings.base_models)} stack"
        )

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
