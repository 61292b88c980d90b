"""The stack's family (``StackFamily``), registered when the stack is first asked for."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multimodal_genre.errors import RunError
from multimodal_genre.families.bag import BAG_FILE, load_saved
from multimodal_genre.families.base import Family, Fitted, Predictor
from multimodal_genre.families.registry import FAMILIES, family, register
from multimodal_genre.families.stack.selection import best_round, greedy_selection
from multimodal_genre.files import write_json
from multimodal_genre.settings import Problems, Settings

if TYPE_CHECKING:
    from multimodal_genre.data import Labelled, Tracks

STACK_FILE = "stack.json"
BASES_DIR = "bases"  # in a stack's run folder: each base model it weighs, in a folder named after it


@dataclasses.dataclass(frozen=True)
class StackConfig(Settings):
    """Which models a stack averages, and how its weights are chosen."""

    base_models: tuple[str, ...]  # fold-bagged models: their out-of-fold and test predictions come from the same models
    rounds: int  # greedy selection steps; a model may be picked in many, its weight is its share

    def problems(self) -> Problems:
        if len(self.base_models) < 2:
            yield "base_models", f"must name at least two models, got {list(self.base_models)}"
        if len(set(self.base_models)) != len(self.base_models):
            yield "base_models", f"must not repeat a model, got {list(self.base_models)}"
        if self.rounds < 1:
            yield "rounds", f"must be at least 1, got {self.rounds}"


@dataclasses.dataclass(frozen=True)
class Stack:
    """Weights by base model, and the base models that predict new tracks (each its predictor and
    its model; none before they are attached, ``stacking.fit_stack``)."""

    weights: dict[str, float]
    models: dict[str, tuple[Predictor, Any]] = dataclasses.field(default_factory=dict)


def base_view(name: str) -> str:
    """The key of a base model's out-of-fold probabilities among the views a stack is fitted on."""
    return f"base:{name}"


class StackFamily(Family):
    """A weighted average of other models' probabilities. Like scikit-learn's stacking, its fit is
    the final step over its base models' out-of-fold predictions (``base_view``), which
    ``stacking.fit_stack`` trains and hands over; it predicts a new track through those base models."""

    name = "stack"
    settings = StackConfig
    views = ("image", "features")
    unit = "round"
    shades = ("#e377c2", "#f7b6d2", "#9c2f7d", "#ee9ad5", "#5a1a48")
    length_setting = "rounds"
    files = (STACK_FILE,)
    composite = True

    def problems(self, settings: StackConfig) -> Problems:
        for base in settings.base_models:
            if base not in FAMILIES or FAMILIES[base].composite:
                yield "base_models", f"'{base}' is not a model a stack can average (known: {', '.join(FAMILIES)})"

    def built_from(self, settings: StackConfig) -> tuple[str, ...]:
        return settings.base_models

    def watches_validation(self, settings: StackConfig) -> bool:
        """No: its base models, fold bags, pool the validation rows into their members' folds."""
        return False

    def migrate(self, section: Mapping[str, Any], where: str) -> Mapping[str, Any]:
        """Until its base models were fold-bagged, a stack trained inner folds of its own (``folds``):
        the key is dropped; until the glossary kept ``members`` for a bag's, they were its ``members``."""
        if not isinstance(section, Mapping):
            return section
        renamed = {"members": "base_models"}
        return {renamed.get(key, key): value for key, value in section.items() if key != "folds"}

    def fit(
        self,
        settings: StackConfig,
        train: Labelled,
        validation: Labelled | None,
        seed: int,
        callbacks: Sequence[Any] = (),
    ) -> Fitted:
        """Weights by greedy selection on the base models' out-of-fold probabilities of ``train``."""
        missing = [base for base in settings.base_models if base_view(base) not in train.tracks.embeddings]
        if missing:
            raise RunError(f"a stack fits on its base models' out-of-fold predictions; none given of {missing[0]}")
        started = time.perf_counter()
        candidates = [train.tracks.embeddings[base_view(base)] for base in settings.base_models]
        weights, history = greedy_selection(candidates, train.labels, settings.rounds)
        stack = Stack({base: float(weight) for base, weight in zip(settings.base_models, weights, strict=True)})
        return Fitted(stack, history, best_round(history), time.perf_counter() - started)

    def predict_proba(self, model: Stack, tracks: Tracks) -> np.ndarray:
        total = 0.0
        for name, weight in model.weights.items():
            if weight > 0:
                owner, base = model.models[name]
                total = total + weight * owner.predict_proba(base, tracks)
        return np.asarray(total, dtype=np.float32)

    def save(self, model: Stack, directory: Path) -> None:
        """The weights, and each base model of some weight in ``bases/<name>/``."""
        for name, (owner, base) in model.models.items():
            folder = directory / BASES_DIR / name
            folder.mkdir(parents=True)
            owner.save(base, folder)
        write_json(directory / STACK_FILE, {"weights": model.weights})

    def load(self, directory: Path) -> Stack:
        """The weights and base models a stack saved; a stack a comparison wrote before its run folder
        held its base models reads them from the runs beside it."""
        path = directory / STACK_FILE
        try:
            weights = json.loads(path.read_text())["weights"]
            weights = {str(name): float(weight) for name, weight in weights.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise RunError(f"{path}: not a stack's weights ({error})") from None
        models = {}
        for name in (name for name, weight in weights.items() if weight > 0):
            owner = family(name)
            inside = directory / BASES_DIR / name
            folder = inside if inside.is_dir() else directory.parent / name
            saved = (*owner.files, BAG_FILE)
            if not any((folder / file).is_file() for file in saved):
                raise RunError(f"{path}: its base model's folder {folder} has no {' or '.join(saved)}")
            models[name] = load_saved(owner, folder)
        return Stack(weights, models)


register(StackFamily())
