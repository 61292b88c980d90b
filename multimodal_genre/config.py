"""The package's configuration: data, split, seed and one section per model.

The default values live in ``configs/default.yaml`` (data, not code). The dataclasses below only
describe the shape and the allowed values, and check them whenever a config is made, so that a
typo or a bad value fails before any work starts, with the file and the full key in the message.
Each model's section is its family's settings (``families/``): a model known to the registry can
have a section here, and only such a model.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from multimodal_genre.errors import ConfigError
from multimodal_genre.families import FAMILIES, family
from multimodal_genre.settings import Problems, Settings, from_data, join, merge, read_yaml, to_data


@dataclasses.dataclass(frozen=True)
class CropBox(Settings):
    """The plot area inside the spectrogram image, as inclusive pixel ranges."""

    rows: tuple[int, int]
    cols: tuple[int, int]

    def problems(self) -> Problems:
        for name, (first, last) in (("rows", self.rows), ("cols", self.cols)):
            if not 0 <= first <= last:
                yield name, f"must be [first, last] with 0 <= first <= last, got [{first}, {last}]"

    @property
    def height(self) -> int:
        return self.rows[1] - self.rows[0] + 1

    @property
    def width(self) -> int:
        return self.cols[1] - self.cols[0] + 1

    @property
    def pil_box(self) -> tuple[int, int, int, int]:
        """(left, upper, right, lower) with exclusive right and lower edges, as Pillow wants it."""
        return self.cols[0], self.rows[0], self.cols[1] + 1, self.rows[1] + 1


@dataclasses.dataclass(frozen=True)
class ImageConfig(Settings):
    """How a spectrogram PNG becomes a model input array."""

    crop: CropBox | None
    height: int | None
    width: int | None
    color: Literal["rgb", "grayscale"]

    def problems(self) -> Problems:
        if self.height is None and self.width is None:
            yield "height", "and width cannot both be null"
        for name in ("height", "width"):
            value = getattr(self, name)
            if value is not None and not 8 <= value <= 4096:
                yield name, f"must be between 8 and 4096 pixels, got {value}"

    @property
    def channels(self) -> int:
        return 3 if self.color == "rgb" else 1


@dataclasses.dataclass(frozen=True)
class DataConfig(Settings):
    image: ImageConfig
    cache: bool
    cache_dir: str | None


@dataclasses.dataclass(frozen=True)
class SplitConfig(Settings):
    seed: int
    test_fraction: float
    validation_fraction: float
    folds: int

    def problems(self) -> Problems:
        if not 0.0 < self.test_fraction <= 0.5:
            yield "test_fraction", f"must be in (0, 0.5], got {self.test_fraction}"
        if not 0.0 <= self.validation_fraction <= 0.5:
            yield "validation_fraction", f"must be in [0, 0.5] (0: no validation side), got {self.validation_fraction}"
        if self.test_fraction + self.validation_fraction > 0.6:
            yield "validation_fraction", "plus test_fraction must leave at least 40% for training"
        if self.folds < 2:
            yield "folds", f"must be at least 2, got {self.folds}"


@dataclasses.dataclass(frozen=True)
class Config(Settings):
    data: DataConfig
    split: SplitConfig
    seed: int  # weight initialisation, shuffling and XGBoost sampling
    # Model name -> its family's settings, in the order of the file (a comparison trains them so).
    models: Mapping[str, Settings]

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", types.MappingProxyType(dict(self.models)))  # read-only
        super().__post_init__()

    def problems(self) -> Problems:
        if not self.models:
            yield "models", "must configure at least one model"
        for name, settings in self.models.items():
            if name not in FAMILIES:
                yield join("models", name), f"is not a known model (known: {', '.join(FAMILIES)})"
                continue
            owner = family(name)
            if not isinstance(settings, owner.settings):
                yield join("models", name), f"must be a {owner.settings.__name__}, got {type(settings).__name__}"
                continue
            for key, problem in owner.problems(settings):
                yield join(join("models", name), key), problem

    def with_model(self, name: str, settings: Settings) -> Config:
        """This config with ``name``'s section replaced (checked like any new config)."""
        return dataclasses.replace(self, models={**self.models, name: settings})


def load_config(path: str | Path | None = None) -> Config:
    """Read the packaged defaults, overlay the keys of ``path`` (if given) and validate the result."""
    if path is None:
        return changed_config({}, "default.yaml")
    return changed_config(read_yaml(Path(path), str(path)), str(path))


def changed_config(changes: Mapping[str, Any], source: str) -> Config:
    """The packaged defaults with ``changes`` (parsed YAML) overlaid, validated; errors name ``source``."""
    defaults = read_yaml(files("multimodal_genre.configs") / "default.yaml", "default.yaml")
    return config_from_data(merge(defaults, changes), source)


def config_from_data(data: Mapping[str, Any], source: str) -> Config:
    """A complete config from plain data (``config_dict``'s output); each model's section is read as
    its family's settings."""
    sections = data.get("models")
    if not isinstance(sections, Mapping):
        raise ConfigError(f"{source}: 'models' must be a mapping of model names to their settings, got {sections!r}")
    models = {}
    for name, section in sections.items():
        if name not in FAMILIES:
            raise ConfigError(
                f"{source}: unknown key '{join('models', str(name))}' (expected one of: {', '.join(FAMILIES)})"
            )
        models[name] = from_data(family(name).settings, section, source, join("models", name))
    return from_data(Config, {**data, "models": models}, source)


def config_dict(config: Config) -> dict[str, Any]:
    """The config as plain YAML-able data (tuples as lists): ``config_from_data`` reads it back."""
    return to_data(config)
