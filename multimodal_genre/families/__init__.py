"""Model families: one folder each, behind one small interface (``base.Family``), and the registry.

``networks/`` holds the Keras networks (fused, cnn, mlp and musicnn are four of it), ``xgboost/`` the
gradient-boosted trees, ``svm/`` the support vector machine, ``stack/`` the weighted average of other
models. ``bag.py`` wraps any family: K members averaged into one model. A new family is a folder:
its ``family.py`` holds a ``Family`` subclass that ``register``s itself, and its ``__init__.py``
declares its models' names in one line (``declare``); code outside registers a family with
``register``. The names below are imported when first used, so that the registry stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from multimodal_genre.families.registry import FAMILIES, family, register

if TYPE_CHECKING:
    from multimodal_genre.families.bag import BaggedFamily, BaggingConfig
    from multimodal_genre.families.base import Family, Fitted, Predictor, TrainedModel, fit_split

_LAZY = {
    "BaggedFamily": "bag",
    "BaggingConfig": "bag",
    "Family": "base",
    "Fitted": "base",
    "Predictor": "base",
    "TrainedModel": "base",
    "fit_split": "base",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


__all__ = [
    "FAMILIES",
    "BaggedFamily",
    "BaggingConfig",
    "Family",
    "Fitted",
    "Predictor",
    "TrainedModel",
    "family",
    "fit_split",
    "register",
]
