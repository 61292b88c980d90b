"""Model families and the registry that maps each model's name to its family.

Code that trains, saves, loads or tunes a model asks ``family(name)``, never tests the name. A new
family is a module with a ``Family`` subclass and one ``register`` line (here, or in the code that
uses it).
"""

from __future__ import annotations

from multimodal_genre.errors import ConfigError
from multimodal_genre.families.base import Family, OutOfFold, TrainedModel
from multimodal_genre.families.networks import NetworkFamily
from multimodal_genre.families.stacks import StackFamily
from multimodal_genre.families.trees import XGBoostFamily

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


register(NetworkFamily("fused", views=("image", "features")))
register(NetworkFamily("cnn", views=("image",)))
register(NetworkFamily("mlp", views=("features",)))
register(XGBoostFamily())
register(StackFamily())

__all__ = ["FAMILIES", "Family", "OutOfFold", "TrainedModel", "family", "register"]
