"""The package's configuration: data, split, seed and one section per model.

The default values live in ``configs/default.yaml`` (data, not code). The settings dataclasses only
describe the shape and the allowed values, and check them whenever a config is made, so that a
typo or a bad value fails before any work starts, with the file and the full key in the message.
The data and split sections are ``data/settings.py``'s; each model's section is its family's
settings (``families/``): a model known to the registry can have a section here, and only such a model.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from multimodal_genre.data.settings import DataConfig, SplitConfig
from multimodal_genre.errors import ConfigError
from multimodal_genre.families import FAMILIES, family
from multimodal_genre.settings import Problems, Settings, from_data, join, merge, read_yaml, to_data


@dataclasses.dataclass(frozen=True)
class Config(Settings):
    data: DataConfig
    split: SplitConfig
    seed: int  # weight initialisation, shuffling and XGBoost sampling
    # Model name -> its family's settings, in the order of the file (a comparison trains them so).
    models: Mapping[str, Settings]

    def __post_init__(self) -> None:
        if isinstance(self.models, Mapping):
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

    def __reduce__(self) -> tuple[type[Config], tuple[Any, ...]]:
        """Pickled as its fields (a read-only mapping cannot be): configs travel to worker processes."""
        return Config, (self.data, self.split, self.seed, dict(self.models))

    def with_model(self, name: str, settings: Settings) -> Config:
        """This config with ``name``'s section replaced (checked like any new config)."""
        return dataclasses.replace(self, models={**self.models, name: settings})


def load_config(path: str | Path | None = None) -> Config:
    """Read the packaged defaults, overlay the keys of ``path`` (if given) and validate the result."""
    if path is None:
        return changed_config({}, "default.yaml")
    return changed_config(read_yaml(Path(path), str(path)), str(path))


def load_run_config(path: str | Path) -> Config:
    """The complete config a run wrote (``config.yaml``), read as it ran: a key it lacks, because it
    came before that key, takes the setting's own default (what runs did before the key existed),
    never today's ``default.yaml``, whose values may have changed since."""
    return config_from_data(read_yaml(Path(path), str(path)), str(path))


def changed_config(changes: Mapping[str, Any], source: str) -> Config:
    """The packaged defaults with ``changes`` (parsed YAML) overlaid, validated; errors name ``source``."""
    defaults = read_yaml(files("multimodal_genre.configs") / "default.yaml", "default.yaml")
    return config_from_data(merge(defaults, changes), source)


def config_from_data(data: Mapping[str, Any], source: str) -> Config:
    """A complete config from plain data (``config_dict``'s output); each model's section is read as
    its family's settings, and a section set to null leaves that model out."""
    sections = data.get("models")
    if not isinstance(sections, Mapping):
        raise ConfigError(f"{source}: 'models' must be a mapping of model names to their settings, got {sections!r}")
    models = {}
    for name, section in sections.items():
        if section is None:  # "models: {cnn: null}" drops a default model
            continue
        if name not in FAMILIES:
            raise ConfigError(
                f"{source}: unknown key '{join('models', str(name))}' (expected one of: {', '.join(FAMILIES)})"
            )
        models[name] = from_data(family(name).settings, section, source, join("models", name))
    return from_data(Config, {**data, "models": models}, source)


def config_dict(config: Config) -> dict[str, Any]:
    """The config as plain YAML-able data (tuples as lists): ``config_from_data`` reads it back."""
    return to_data(config)
