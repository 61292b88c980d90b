"""The registry that maps each model's name to its family.

Code that trains, saves, loads or tunes a model asks ``family(name)``, never tests the name. Each of
the package's family folders declares its models' names in one line of its ``__init__.py``
(``declare``); the module that holds the family is imported the first time one of them is asked for,
so the command line knows every model's name without loading TensorFlow or XGBoost. Code outside
registers its own families with ``register``.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from multimodal_genre.errors import ConfigError

if TYPE_CHECKING:
    from multimodal_genre.families.base import Family

_DECLARED: dict[str, str] = {}  # model name -> the module whose import registers its family


def declare(*names: str, module: str) -> None:
    """Make ``names`` known to configs and commands; importing ``module`` registers their family."""
    for name in names:
        _DECLARED.setdefault(name, module)


class _Registry(MutableMapping[str, "Family"]):
    """Name -> family; a declared family's module is imported when the family is first asked for."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}
        self._discovered = False

    def _declared(self) -> dict[str, str]:
        """Every name the family folders beside this module declare (each folder's light ``__init__``)."""
        if not self._discovered:
            self._discovered = True
            for folder in pkgutil.iter_modules([str(Path(__file__).parent)]):
                if folder.ispkg:
                    importlib.import_module(f"{__package__}.{folder.name}")
        return _DECLARED

    def __getitem__(self, name: str) -> Family:
        declared = self._declared()
        if name not in self._families and name in declared:
            importlib.import_module(declared[name])
        return self._families[name]

    def __setitem__(self, name: str, family: Family) -> None:
        self._families[name] = family

    def __delitem__(self, name: str) -> None:
        del self._families[name]

    def __contains__(self, name: object) -> bool:
        return name in self._declared() or name in self._families

    def __iter__(self) -> Iterator[str]:
        """The declared names by folder (each folder's in its own order), then those registered from outside."""
        declared = self._declared()
        return iter(dict.fromkeys([*sorted(declared, key=declared.__getitem__), *self._families]))

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
