"""Search spaces for tuning: each family's own (``search.yaml`` in its folder, data, not code), the
study's settings from ``configs/search.yaml``, and a user's changes to either (``--search``).

A space maps settings of one model's config section to Optuna distributions, most of them centred
on the configured value (``factor``, ``spread``): a study scores the configured settings first and
weighs every trial against them, so the space must hold them. Every range is checked when the file
is read: each bound and each choice is applied to the model's config and validated there, so a
range that would produce an invalid model fails before any trial runs, with the file and the key in
the message.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import optuna

from multimodal_genre.config import Config, config_dict, config_from_data
from multimodal_genre.errors import ConfigError
from multimodal_genre.families import FAMILIES, family
from multimodal_genre.settings import Problems, Settings, from_data, merge, read_yaml

# A family's searched settings that stand for a list setting (``Family.derived``).
Derived = Mapping[str, tuple[str, str, float]]


@dataclasses.dataclass(frozen=True)
class Distribution:
    """One searched setting, as Optuna's ``trial.suggest_float``, ``suggest_int`` or ``suggest_categorical``."""

    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        if self.kind == "categorical":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not self.low <= value <= self.high:
            return False
        return self.kind == "float" or float(value).is_integer()

    def extremes(self) -> list[Any]:
        """The values whose validity proves the whole range valid."""
        if self.kind == "categorical":
            return list(self.choices)
        cast = int if self.kind == "int" else float
        return [cast(self.low), cast(self.high)]


@dataclasses.dataclass(frozen=True)
class PrunerConfig(Settings):
    type: Literal["median", "hyperband", "none"]
    startup_trials: int
    # Model -> steps of its family's unit before its trial may be pruned, where a user changes the
    # family's own (``warmup`` in the family's search.yaml).
    warmup: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def problems(self) -> Problems:
        if self.startup_trials < 0:
            yield "startup_trials", f"must not be negative, got {self.startup_trials}"
        for model, steps in self.warmup.items():
            if model not in FAMILIES:
                yield f"warmup.{model}", f"is not a known model (known: {', '.join(FAMILIES)})"
            elif steps < 0:
                yield f"warmup.{model}", f"must not be negative, got {steps}"

    def warmup_of(self, model: str) -> int:
        """Steps ``model`` trains before its trial may be pruned: the user's, else its family's."""
        return self.warmup.get(model, family(model).pruning_warmup())

    def build(self, model: str) -> optuna.pruners.BasePruner:
        """The pruner for a study of ``model``, its warm-up counted in its family's unit."""
        warmup = self.warmup_of(model)
        if self.type == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=self.startup_trials, n_warmup_steps=warmup)
        if self.type == "hyperband":
            return optuna.pruners.HyperbandPruner(min_resource=max(1, warmup))
        return optuna.pruners.NopPruner()


@dataclasses.dataclass(frozen=True)
class StorageConfig(Settings):
    heartbeat_seconds: int
    grace_seconds: int
    retries: int

    def problems(self) -> Problems:
        if self.heartbeat_seconds < 1 or self.grace_seconds <= self.heartbeat_seconds:
            yield "grace_seconds", "must exceed 'storage.heartbeat_seconds' (>= 1)"
        if self.retries < 0:
            yield "retries", f"must not be negative, got {self.retries}"


@dataclasses.dataclass(frozen=True)
class FinalConfig(Settings):
    """What a study hands back: the best trial's settings re-trained, or the ``top_k`` best trials'
    settings, each re-trained, averaged in one model (the best trial alone is partly luck of its folds)."""

    top_k: int

    def problems(self) -> Problems:
        if self.top_k < 1:
            yield "top_k", f"must be at least 1, got {self.top_k}"


@dataclasses.dataclass(frozen=True)
class DecisionConfig(Settings):
    """The rule a study's winner must pass to replace the default settings (``tuning/decision.py``), and its level."""

    rule: Literal["corrected_t", "one_se", "always"]
    level: float  # one-sided: the chance that noise alone passes corrected_t

    def problems(self) -> Problems:
        if not 0.0 < self.level < 0.5:
            yield "level", f"must be between 0 and 0.5 (one-sided), got {self.level}"


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    pruner: PrunerConfig
    storage: StorageConfig
    final: FinalConfig
    decision: DecisionConfig
    spaces: Mapping[str, Mapping[str, Distribution]]  # model -> dotted setting -> distribution


def load_search(config: Config, path: str | Path | None = None) -> SearchConfig:
    """The study settings and each model's family's space, overlaid with ``path``'s keys, each range
    checked against ``config`` and centred on its values."""
    packaged = read_yaml(files("multimodal_genre.configs") / "search.yaml", "search.yaml")
    spaces = {model: family(model).search_space(model) for model in config.models}
    data = _for_branches(merge(packaged, {"spaces": spaces}), config)
    source = "search.yaml"
    if path is not None:
        data, source = _overlay(data, read_yaml(Path(path), str(path))), str(path)
    _only_keys(data, {"pruner", "storage", "final", "decision", "spaces"}, "", source)
    spaces = data.get("spaces")
    if not isinstance(spaces, Mapping):
        raise ConfigError(f"{source}: 'spaces' must be a mapping of model names to search spaces")
    _only_keys(spaces, set(FAMILIES), "spaces", source)  # a model the config leaves out keeps its space unused
    return SearchConfig(
        pruner=from_data(PrunerConfig, _migrated_pruner(data.get("pruner")), source, "pruner"),
        storage=from_data(StorageConfig, data.get("storage"), source, "storage"),
        final=from_data(FinalConfig, data.get("final"), source, "final"),
        decision=from_data(DecisionConfig, data.get("decision"), source, "decision"),
        spaces={model: _space(config, model, spaces.get(model) or {}, source) for model in config.models},
    )


def _migrated_pruner(pruner: Any) -> Any:
    """A search file's ``pruner`` in today's form: until each family owned its warm-up, it was
    ``warmup_epochs`` (every network's) and ``warmup_rounds`` (XGBoost's), now ``warmup`` by model."""
    if not isinstance(pruner, Mapping):
        return pruner
    units = {"warmup_epochs": "epoch", "warmup_rounds": "round"}
    warmup = {
        model: pruner[key]
        for key, unit in units.items()
        if key in pruner
        for model, owner in FAMILIES.items()
        if owner.unit == unit and not owner.composite
    }
    rest = {key: value for key, value in pruner.items() if key not in units}
    return {**rest, "warmup": {**warmup, **(rest.get("warmup") or {})}} if warmup else rest


def _overlay(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``data`` with a search file's ``changes``: sections merge key by key, and a setting's
    distribution given there replaces the packaged one whole."""
    spaces = changes.get("spaces")
    if not isinstance(spaces, Mapping):
        return merge(data, changes)
    merged = merge(data, {key: value for key, value in changes.items() if key != "spaces"})
    packaged = data.get("spaces") or {}
    merged["spaces"] = {
        **packaged,
        **{
            model: {**(packaged.get(model) or {}), **space} if isinstance(space, Mapping) else space
            for model, space in spaces.items()
        },
    }
    return merged


def _for_branches(packaged: dict[str, Any], config: Config) -> dict[str, Any]:
    """The packaged spaces less the settings a model of ``config`` cannot search (``Family.searchable``:
    a fused model without the pre-trained branch, say): only a user's own search file is held to
    every key it names."""
    models = config_dict(config)["models"]
    spaces = {}
    for model, space in (packaged.get("spaces") or {}).items():
        section, owner = models.get(model) or {}, family(model)
        spaces[model] = {key: value for key, value in space.items() if owner.searchable(key, section)}
    return {**packaged, "spaces": spaces}


def suggest(trial: optuna.Trial, space: Mapping[str, Distribution]) -> dict[str, Any]:
    """One value per searched setting, named by its dotted key (the trial's parameter names)."""
    return {key: distribution.suggest(trial, key) for key, distribution in space.items()}


def default_values(config: Config, model: str, space: Mapping[str, Distribution]) -> dict[str, Any]:
    """The values ``config`` gives the searched settings: a study's first trial, against which every
    other is weighed. A value the space cannot hold is an error naming the setting; a setting with
    no value (the width of a head without layers) is left to the sampler, as it changes nothing."""
    values = {key: value for key, value in _configured(config, model, space).items() if value is not None}
    for key, value in values.items():
        if not space[key].contains(value):
            raise ConfigError(
                f"'spaces.{model}.{key}' does not hold the configured value {value!r}; a study scores the "
                "configured settings first and weighs every trial against them, so its space must hold them"
            )
    return values


def _configured(config: Config, model: str, keys: Any) -> dict[str, Any]:
    """The configured value of each searched setting of ``model`` (derived ones included)."""
    section = config_dict(config)["models"][model]
    values = {}
    for key in keys:
        for target, (count_key, size_key, _) in family(model).derived.items():
            if key in (count_key, size_key):
                branch, name = target.split(".")
                sizes = section[branch][name]
                values[key] = len(sizes) if key == count_key else (sizes[0] if sizes else None)
                break
        else:
            value = section
            for part in key.split("."):
                value = value[part]
            values[key] = value
    return values


def apply(config: Config, model: str, params: Mapping[str, Any], source: str = "tuned parameters") -> Config:
    """``config`` with ``params`` (dotted settings of ``model``, derived ones included) put in place."""
    data = config_dict(config)
    section = data["models"][model]
    for key, value in _expand(params, section, family(model).derived).items():
        *parents, leaf = key.split(".")
        target = section
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return config_from_data(data, source)


def _expand(params: Mapping[str, Any], section: Mapping[str, Any], derived: Derived) -> dict[str, Any]:
    """Replace derived settings (blocks and first filters, layers and width) by the list they stand for."""
    plain = {key: value for key, value in params.items() if key not in _derived_keys(derived)}
    for target, (count_key, size_key, ratio) in derived.items():
        if count_key not in params and size_key not in params:
            continue
        branch, name = target.split(".")
        current = section[branch][name]
        count = params.get(count_key, len(current))
        size = params.get(size_key, current[0] if current else 64)
        plain[target] = [max(1, round(size * ratio**index)) for index in range(count)]
    return plain


def _space(config: Config, model: str, raw: Mapping[str, Any], source: str) -> dict[str, Distribution]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: 'spaces.{model}' must be a mapping of settings to distributions")
    section = config_dict(config)["models"][model]
    space = {}
    for key, value in raw.items():
        where = f"spaces.{model}.{key}"
        if value is None:
            continue
        _check_setting(str(key), section, family(model).derived, where, source)
        configured = _configured(config, model, [str(key)])[str(key)]
        distribution = _distribution(value, where, source, configured)
        for extreme in distribution.extremes():
            try:
                apply(config, model, {key: extreme}, source)
            except ConfigError as error:
                reason = str(error).split(": ", 1)[-1]
                raise ConfigError(f"{source}: '{where}' admits {extreme!r}, which is not valid: {reason}") from None
        space[str(key)] = distribution
    return space


def _derived_keys(derived: Derived) -> set[str]:
    """The searched settings that stand for a list setting: each count key and size key."""
    return {key for count, size, _ in derived.values() for key in (count, size)}


def _check_setting(key: str, section: Mapping[str, Any], derived: Derived, where: str, source: str) -> None:
    if key in _derived_keys(derived):
        branch = key.split(".")[0]
        if section.get(branch) is None:
            raise ConfigError(f"{source}: '{where}' is not a setting of this model (it has no {branch} branch)")
        return
    target: Any = section
    for part in key.split("."):
        if not isinstance(target, Mapping) or part not in target:
            raise ConfigError(f"{source}: unknown parameter '{where}' (not a setting of this model)")
        target = target[part]
    if isinstance(target, (Mapping, list)):
        instead = [f"{count} and {size}" for name, (count, size, _) in derived.items() if name == key]
        hint = f"; search {instead[0]} instead" if instead else ""
        raise ConfigError(f"{source}: '{where}' is a list or section, not a single setting{hint}")


def _distribution(raw: Any, where: str, source: str, configured: Any) -> Distribution:
    """A distribution as the search file gives it: absolute (``low``, ``high``), or centred on the
    ``configured`` value (``factor``: log-scaled from value / factor to value x factor; ``spread``:
    value - spread to value + spread, cut at ``min`` and ``max``); a categorical one holds the
    configured value among its choices."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{source}: '{where}' {problem}")

    if not isinstance(raw, Mapping) or raw.get("type") not in ("float", "int", "categorical"):
        raise fail("must be a distribution: {type: float|int|categorical, ...}")
    kind = raw["type"]
    if kind == "categorical":
        _only_keys(raw, {"type", "choices"}, where, source)
        choices = raw.get("choices")
        if not isinstance(choices, list) or not choices:
            raise fail("needs a non-empty list of choices")
        if not all(isinstance(choice, (bool, int, float, str)) for choice in choices):
            raise fail("choices must be numbers, strings or booleans")
        held = configured is None or any(
            choice == configured and type(choice) is type(configured) for choice in choices
        )
        return Distribution("categorical", choices=tuple(choices if held else [*choices, configured]))
    if "factor" in raw or "spread" in raw:
        return _centred(raw, kind, configured, fail, where, source)
    _only_keys(raw, {"type", "low", "high", "log", "step"}, where, source)
    low, high, log, step = raw.get("low"), raw.get("high"), raw.get("log", False), raw.get("step")
    number = int if kind == "int" else (int, float)
    for name, value in (("low", low), ("high", high)):
        if not isinstance(value, number) or isinstance(value, bool) or not math.isfinite(value):
            raise fail(f"needs a{'n integer' if kind == 'int' else ' number'} '{name}', got {value!r}")
    if low >= high:
        raise fail(f"needs low < high, got low {low} and high {high}")
    if not isinstance(log, bool):
        raise fail(f"'log' must be true or false, got {log!r}")
    if log and low <= 0:
        raise fail(f"is log-scaled, so low must be positive, got {low}")
    if step is not None and (not isinstance(step, number) or isinstance(step, bool) or step <= 0 or log):
        raise fail(f"'step' must be a positive {kind} (and not combined with log), got {step!r}")
    return Distribution(kind, low=low, high=high, log=log, step=step)


def _centred(raw: Mapping[str, Any], kind: str, configured: Any, fail: Any, where: str, source: str) -> Distribution:
    """A range around ``configured``: ``factor`` (log-scaled) or ``spread`` (cut at ``min``, ``max``)."""
    if isinstance(configured, bool) or not isinstance(configured, (int, float)):
        raise fail(f"is centred on the configured value, which is not a number: {configured!r}")
    if "factor" in raw:
        _only_keys(raw, {"type", "factor"}, where, source)
        factor = raw["factor"]
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 1:
            raise fail(f"'factor' must be a number above 1, got {factor!r}")
        if configured <= 0:
            raise fail(f"is log-scaled around the configured value, which must be positive, got {configured}")
        low, high = configured / factor, configured * factor
        if kind == "int":
            low, high = max(1, math.floor(low)), math.ceil(high)
        return Distribution(kind, low=low, high=high, log=True)
    _only_keys(raw, {"type", "spread", "min", "max"}, where, source)
    spread, floor, ceiling = raw["spread"], raw.get("min", -math.inf), raw.get("max", math.inf)
    for name, value in (("spread", spread), ("min", floor), ("max", ceiling)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(f"'{name}' must be a number, got {value!r}")
    if spread <= 0 or (kind == "int" and not float(spread).is_integer()):
        raise fail(f"'spread' must be a positive {'integer' if kind == 'int' else 'number'}, got {spread!r}")
    low, high = max(floor, configured - spread), min(ceiling, configured + spread)
    if not low <= configured <= high or low >= high:
        raise fail(f"cannot be centred on the configured value {configured} within min {floor} and max {ceiling}")
    cast = int if kind == "int" else float
    return Distribution(kind, low=cast(low), high=cast(high))


def _only_keys(data: Mapping[str, Any], allowed: set[str], prefix: str, source: str) -> None:
    for key in data:
        if key not in allowed:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(f"{source}: unknown key '{where}' (expected one of: {', '.join(sorted(allowed))})")
