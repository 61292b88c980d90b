"""The package's configuration: data, split, seed and one section per model.

The default values live in ``configs/default.yaml`` (data, not code). The settings dataclasses only
describe the shape and the allowed values, and check them whenever a config is made, so that a
typo or a bad value fails before any work starts, with the file and the full key in the message.
The data and split sections are ``data/settings.py``'s; each model's section is its family's
settings (``families/``): a model known to the registry can have a section here, and only such a model.
A section's ``bagging`` key, which any family takes, is read apart from the family's settings.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import types
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from multimodal_genre.data.settings import DataConfig, SplitConfig
from multimodal_genre.errors import ConfigError
from multimodal_genre.families import FAMILIES, BaggingConfig, family
from multimodal_genre.settings import Problems, Settings, from_data, join, merge, read_yaml, to_data


@dataclasses.dataclass(frozen=True)
class Config(Settings):
    data: DataConfig
    split: SplitConfig
    seed: int  # weight initialisation, shuffling and XGBoost sampling
    # Model name -> its family's settings, in the order of the file (a comparison trains them so).
    models: Mapping[str, Settings]
    # Model name -> how it is bagged (``models.<name>.bagging`` in the file); a model not here trains as one.
    bagging: Mapping[str, BaggingConfig] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("models", "bagging"):
            if isinstance(getattr(self, name), Mapping):
                object.__setattr__(self, name, types.MappingProxyType(dict(getattr(self, name))))  # read-only
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
        for name in self.bagging:
            if name not in self.models or FAMILIES[name].composite:
                yield join(join("models", name), "bagging"), "bags only a model of this config that trains"

    def __reduce__(self) -> tuple[type[Config], tuple[Any, ...]]:
        """Pickled as its fields (a read-only mapping cannot be): configs travel to worker processes."""
        return Config, (self.data, self.split, self.seed, dict(self.models), dict(self.bagging))

    def with_model(self, name: str, settings: Settings) -> Config:
        """This config with ``name``'s section replaced, its bagging as it was (checked like any new config)."""
        return dataclasses.replace(self, models={**self.models, name: settings})

    def for_model(self, name: str) -> Config:
        """This config with only what trains ``name``: its section and bagging, and its members' (a
        stack's); two runs of ``name`` trained alike exactly when these are equal."""
        needed = {name, *family(name).built_from(self.models[name])}
        return dataclasses.replace(
            self,
            models={key: value for key, value in self.models.items() if key in needed},
            bagging={key: value for key, value in self.bagging.items() if key in needed},
        )


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
    defaults = _packaged_defaults()
    return config_from_data(merge(defaults, _migrated(changes, source)), source)


def config_from_data(data: Mapping[str, Any], source: str) -> Config:
    """A complete config from plain data (``config_dict``'s output); each model's section is read as
    its family's settings and its bagging, and a section set to null leaves that model out."""
    if not isinstance(data.get("models"), Mapping):
        raise ConfigError(
            f"{source}: 'models' must be a mapping of model names to their settings, got {data.get('models')!r}"
        )
    models, bagging = {}, {}
    for name, section in _migrated(data, source)["models"].items():
        if section is None:  # "models: {cnn: null}" drops a default model
            continue
        key = join("models", str(name))
        if name not in FAMILIES:
            raise ConfigError(f"{source}: unknown key '{key}' (expected one of: {', '.join(FAMILIES)})")
        if not isinstance(section, Mapping):
            raise ConfigError(f"{source}: '{key}' must be a mapping, got {section!r}")
        plan = section.get("bagging")
        settings = {setting: value for setting, value in section.items() if setting != "bagging"}
        models[name] = from_data(family(name).settings, settings, source, key)
        if plan is not None:
            bagging[name] = from_data(BaggingConfig, plan, source, join(key, "bagging"))
    return from_data(Config, {**data, "models": models, "bagging": bagging}, source)


def _migrated(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``data`` with each known model's section in today's form (``Family.migrate``): older run
    folders and config files keep loading."""
    sections = data.get("models", {})
    if not isinstance(sections, Mapping):
        raise ConfigError(f"{source}: 'models' must be a mapping of model names to their settings, got {sections!r}")
    models = {
        name: family(name).migrate(section, f"{source}: models.{name}") if name in FAMILIES else section
        for name, section in sections.items()
    }
    return {**data, "models": models} if "models" in data else dict(data)


def config_dict(config: Config) -> dict[str, Any]:
    """The config as plain YAML-able data (tuples as lists), each model's bagging in its section and
    each default model it leaves out as null: ``config_from_data`` and ``load_config`` read it back."""
    data = to_data(config)
    bagging = data.pop("bagging")
    for name, section in data["models"].items():
        section["bagging"] = bagging.get(name)
    data["models"] |= {name: None for name in _packaged_defaults()["models"] if name not in config.models}
    return data


def _packaged_defaults() -> dict[str, Any]:
    """configs/default.yaml as plain data: parsed once, a fresh copy for each caller."""
    return copy.deepcopy(_parsed_defaults())


@functools.cache
def _parsed_defaults() -> dict[str, Any]:
    return read_yaml(files("multimodal_genre.configs") / "default.yaml", "default.yaml")
