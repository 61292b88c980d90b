"""The registry that maps each model's name to its family.

Code that trains, saves, loads or tunes a model asks ``family(name)``, never tests the name. The
package registers its own families in ``families/__init__.py``; code outside registers its own with
``register``.
"""

from __future__ import annotations

from multimodal_genre.errors import ConfigError
from multimodal_genre.families.base import Family

FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Make ``family`` known by its name to configs, commands and run folders."""
    FAMILIES[family.name] = family
    return family


def family(name: str) -> Family:
    """The family of the model ``name``; an unknown name is an error listing the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"no model named '{name}' (known: {', '.join(FAMILIES)})") from None
