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

from multimodal_genre.config import Config, changed_config
from multimodal_genre.errors import ConfigError
from multimodal_genre.families import FAMILIES
from multimodal_genre.records import RecipeRecord
from multimodal_genre.settings import from_data, read_yaml

RECIPE_DIR = "recipes"


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    info: RecipeRecord  # what the file says about the published system; run folders keep it whole
    config: Config
    path: Path

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
    section = content["recipe"]
    if not isinstance(section, dict) or "name" in section:
        raise ConfigError(f"{path}: 'recipe' must be a mapping of the published system's facts, without a name")
    info = from_data(RecipeRecord, {**section, "name": name}, str(path), "recipe")
    if info.model not in FAMILIES:
        raise ConfigError(f"{path}: 'recipe.model' must be one of {', '.join(FAMILIES)}, got {info.model!r}")
    return Recipe(name, info, changed_config(content.get("config") or {}, str(path)), path)
