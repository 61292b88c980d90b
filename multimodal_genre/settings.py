"""Validated settings: frozen dataclasses that check themselves when they are made, and their
conversion from and to plain data (parsed YAML or JSON).

A ``Settings`` object cannot exist in an invalid state, however it was made: read from a file,
copied with ``dataclasses.replace`` or called from Python, every field is checked against its type
and the class's own ``problems()`` when the object is created. Read from a file, a refused value
is an error naming the file and the full dotted key.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import yaml

from multimodal_genre.errors import ConfigError

Problems = Iterator[tuple[str, str]]
T = typing.TypeVar("T")


class SettingError(ConfigError):
    """A settings object refused a value: ``key`` is the field (within the object), ``problem`` the reason."""

    def __init__(self, owner: str, key: str, problem: str) -> None:
        super().__init__(f"{owner}: '{key}' {problem}")
        self.key, self.problem = key, problem


@dataclasses.dataclass(frozen=True)
class Settings:
    """Base of every settings and record dataclass: checks types, then ``problems()``, on creation."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for field in dataclasses.fields(self):
            problem = _type_problem(hints[field.name], getattr(self, field.name))
            if problem:
                raise SettingError(type(self).__name__, field.name, problem)
        for key, problem in self.problems():
            raise SettingError(type(self).__name__, key, problem)

    def problems(self) -> Problems:
        """(key, problem) for each value the type allows but this class refuses."""
        return iter(())


def from_data(kind: type[T], data: Any, source: str, key: str = "") -> T:
    """Plain data (parsed YAML or JSON) as the settings dataclass ``kind``: every key known, every
    value of its type and within its bounds; a ConfigError names ``source`` and the full key."""
    return _build(kind, data, key, source)


def to_data(value: Any) -> Any:
    """Settings as plain data (tuples as lists, mappings as dicts) that ``from_data`` reads back."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_data(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(name): to_data(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_data(item) for item in value]
    return value


def read_yaml(path: Any, name: str) -> dict[str, Any]:
    """A YAML file's top-level mapping (an empty file is an empty mapping), read with the safe loader."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: config file not found") from None
    except OSError as error:
        raise ConfigError(f"{name}: cannot read config file ({error.strerror})") from None
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{name}: invalid YAML{_yaml_problem(error)}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{name}: the top level must be a mapping of sections, got {type(content).__name__}")
    return content


def _yaml_problem(error: yaml.YAMLError) -> str:
    """`` at line 3, column 7: mapping values are not allowed here``: where the parser stopped and why
    (its last line, which the parser words as a sentence), as far as the error says."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    reason = " ".join(str(getattr(error, "problem", "") or "").split()).replace("'<stream end>'", "the end of the file")
    return f"{where}: {reason}" if reason else where


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge: mappings merge key by key, any other value replaces the default."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            merged[key] = merge(base[key], value)
        else:
            merged[key] = value
    return merged


def replaced(settings: T, key: str, value: Any) -> T:
    """``settings`` with the dotted ``key`` (``training.epochs``) set to ``value``, checked anew."""
    head, _, rest = key.partition(".")
    inner = replaced(getattr(settings, head), rest, value) if rest else value
    return dataclasses.replace(settings, **{head: inner})


def join(prefix: str, name: str) -> str:
    """A dotted key for messages: ``join("models.fused", "head")`` is ``models.fused.head``; either part
    may be empty, and a name that does not print (a newline, say) is escaped, so the message stays one line."""
    name = name if name.isprintable() else name.encode("unicode_escape").decode()
    return f"{prefix}.{name}" if prefix and name else prefix or name


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _type_problem(kind: Any, value: Any) -> str | None:
    """Why ``value`` is not of the annotated type ``kind``, or None where it is."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None if type(None) in args else "must not be null"
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _type_problem(inner, value)
    if value is None:
        return "must not be null"
    if origin is Literal:
        return None if value in args else f"must be one of {', '.join(map(str, args))}, got {value!r}"
    if dataclasses.is_dataclass(kind):
        return None if isinstance(value, kind) else f"must be a {kind.__name__}, got {value!r}"
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            return f"must be a mapping, got {value!r}"
        return next(filter(None, (_type_problem(args[1], item) for item in value.values())), None)
    if origin is tuple:
        if not isinstance(value, tuple):
            return f"must be a tuple, got {value!r}"
        items = (args[0],) * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) != len(value):
            return f"must hold {len(items)} values, got {value!r}"
        return next(filter(None, (_type_problem(arg, item) for arg, item in zip(items, value, strict=True))), None)
    return _scalar_problem(kind, value)


def _scalar_problem(kind: Any, value: Any) -> str | None:
    if kind is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if kind is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"must be an integer, got {value!r}"
    if kind is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if number else f"must be a number, got {value!r}"
    if kind is str:
        return None if isinstance(value, str) else f"must be a string, got {value!r}"
    raise TypeError(f"settings type {kind!r} is not supported")


def _build(kind: Any, value: Any, key: str, source: str) -> Any:
    """Convert plain data to ``kind``, raising a ConfigError that names ``source`` and ``key``."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{source}: '{key}' {problem}")

    if dataclasses.is_dataclass(kind):
        if isinstance(value, kind):  # built already (a section a caller converted itself)
            return value
        return _build_dataclass(kind, value, key, source)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType) and value is not None:
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _build(inner, value, key, source)
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise fail(f"must be a mapping, got {value!r}")
        return {str(name): _build(args[1], item, join(key, str(name)), source) for name, item in value.items()}
    if origin is tuple and isinstance(value, (list, tuple)):
        items = (args[0],) * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) == len(value):
            return tuple(
                _build(arg, item, f"{key}[{index}]", source)
                for index, (arg, item) in enumerate(zip(items, value, strict=True))
            )
        raise fail(f"must be a list of {len(items)} values, got {value!r}")
    if origin is tuple:
        raise fail(f"must be a list, got {value!r}")
    problem = _type_problem(kind, value)
    if problem:
        raise fail(problem)
    return float(value) if kind is float else value


def _build_dataclass(kind: Any, value: Any, key: str, source: str) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: '{key}' must be a mapping, got {value!r}")
    fields = {field.name: field for field in dataclasses.fields(kind)}
    for name in value:
        if name not in fields:
            raise ConfigError(
                f"{source}: unknown key '{join(key, str(name))}' (expected one of: {', '.join(sorted(fields))})"
            )
    missing = [name for name, field in fields.items() if name not in value and not _has_default(field)]
    if missing:
        raise ConfigError(f"{source}: missing key '{join(key, missing[0])}'")
    hints = _hints(kind)
    built = {name: _build(hints[name], item, join(key, name), source) for name, item in value.items()}
    try:
        return kind(**built)
    except SettingError as error:
        raise ConfigError(f"{source}: '{join(key, error.key)}' {error.problem}") from None


def _has_default(field: dataclasses.Field) -> bool:
    return field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
