"""Model families: one folder each, behind one small interface (``base.Family``), and the registry.

``networks/`` holds the Keras networks (fused, cnn, mlp and musicnn are four of it), ``xgboost/`` the
gradient-boosted trees, ``stack/`` the weighted average of other models' runs. ``bag.py`` wraps any
family: K members averaged into one model. A new family is a folder with a ``Family`` subclass that
``register``s itself, and one line in ``registry.BUILT_IN`` (or a ``register`` call in the code that
uses it). The names below are imported when first used, so that the registry stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from multimodal_genre.families.registry import FAMILIES, family, register

if TYPE_CHECKING:
    from multimodal_genre.families.bag import BaggedFamily, BaggingConfig
    from multimodal_genre.families.base import Family, TrainedModel

_LAZY = {"BaggedFamily": "bag", "BaggingConfig": "bag", "Family": "base", "TrainedModel": "base"}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


__all__ = ["FAMILIES", "BaggedFamily", "BaggingConfig", "Family", "TrainedModel", "family", "register"]
