"""The registry that maps each model's name to its family.

Code that trains, saves, loads or tunes a model asks ``family(name)``, never tests the name. The
package's own families are listed in ``BUILT_IN`` by the folder that registers them, imported the
first time one of them is asked for: the command line knows every model's name without loading
TensorFlow or XGBoost. Code outside registers its own families with ``register``.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING

from multimodal_genre.errors import ConfigError

if TYPE_CHECKING:
    from multimodal_genre.families.base import Family

BUILT_IN = {  # model name -> the folder under families/ whose import registers it
    "fused": "networks",
    "cnn": "networks",
    "mlp": "networks",
    "musicnn": "networks",
    "xgboost": "xgboost",
    "svm": "svm",
    "stack": "stack",
}


class _Registry(MutableMapping[str, "Family"]):
    """Name -> family; a built-in family's folder is imported when the family is first asked for."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def __getitem__(self, name: str) -> Family:
        if name not in self._families and name in BUILT_IN:
            importlib.import_module(f"multimodal_genre.families.{BUILT_IN[name]}")
        return self._families[name]

    def __setitem__(self, name: str, family: Family) -> None:
        self._families[name] = family

    def __delitem__(self, name: str) -> None:
        del self._families[name]

    def __contains__(self, name: object) -> bool:
        return name in BUILT_IN or name in self._families

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*BUILT_IN, *self._families]))

    def __len__(self) -> int:
        return sum(1 for _ in self)


FAMILIES: MutableMapping[str, Family] = _Registry()


def register(family: Family) -> Family:
    """Make ``family`` known by its name to configs, commands and run folders."""
    FAMILIES[family.name] = family
    return family


def family(name: str) -> Family:
    """The family of the model ``name``; an unknown name is an error listing the known ones."""
    if name not in FAMILIES:
        raise ConfigError(f"no model named '{name}'{did_you_mean(name, FAMILIES)} (known: {', '.join(FAMILIES)})")
    return FAMILIES[name]


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``; did you mean 'fused'?`` where ``word`` is close to one of ``known``, else ``""``."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
