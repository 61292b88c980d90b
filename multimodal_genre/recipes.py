"""Published GTZAN spectrogram systems as ready configs, to reproduce them under this package's
honest protocol and then to beat them.

``configs/recipes/<name>.yaml`` holds a ``recipe`` section (the paper, the model it corresponds to,
the figures it reported and how, what this reproduction does differently) and a ``config`` section:
the changes to ``configs/default.yaml`` that rebuild the published system as closely as this data
allows. A recipe may name a search file, for the explorations a paper reports.
"""

from __future__ import annotations

import dataclasses
from importlib.resources import files
from pathlib import Path
from typing import Literal

from multimodal_genre.config import Config, Problems, changed_config, from_data, read_yaml
from multimodal_genre.errors import ConfigError

RECIPE_DIR = "recipes"


@dataclasses.dataclass(frozen=True)
class RecipeInfo:
    """What a recipe file says about the published system."""

    title: str
    reference: str  # the publication, in words
    model: Literal["fused", "cnn", "mlp", "xgboost"]  # which of this package's models it configures
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
class Recipe:
    name: str
    info: RecipeInfo
    config: Config
    path: Path

    def record(self) -> dict:
        """What a run folder keeps of its recipe, so that a report can set the published figures beside ours."""
        return {"name": self.name, **dataclasses.asdict(self.info)}

    @property
    def search_path(self) -> Path | None:
        return None if self.info.search is None else self.path.parent / self.info.search


def recipe_names() -> list[str]:
    """Every recipe shipped with the package, by name."""
    folder = files("multimodal_genre.configs") / RECIPE_DIR
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def load_recipe(name: str) -> Recipe:
    """A shipped recipe by name; an unknown name is an error listing the known ones."""
    if name not in recipe_names():
        raise ConfigError(f"no recipe named '{name}' (known: {', '.join(recipe_names())})")
    path = Path(str(files("multimodal_genre.configs") / RECIPE_DIR / f"{name}.yaml"))
    content = read_yaml(path, str(path))
    unknown = set(content) - {"recipe", "config"}
    if unknown or "recipe" not in content:
        raise ConfigError(f"{path}: a recipe has the sections 'recipe' and 'config', got {', '.join(sorted(content))}")
    info = from_data(RecipeInfo, content["recipe"], str(path), "recipe")
    return Recipe(name, info, changed_config(content.get("config") or {}, str(path)), path)
