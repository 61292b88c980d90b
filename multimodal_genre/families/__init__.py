"""Model families: one folder each, behind one small interface (``base.Family``), and the registry.

``networks/`` holds the Keras networks (fused, cnn, mlp and musicnn are four of it), ``xgboost/`` the
gradient-boosted trees, ``stack/`` the weighted average of other models' runs. ``bag.py`` wraps any
family: K members averaged into one model. A new family is a folder with a ``Family`` subclass and
one ``register`` line (here, or in the code that uses it).
"""

from __future__ import annotations

from multimodal_genre.families.bag import BaggedFamily, BaggingConfig
from multimodal_genre.families.base import Family, TrainedModel
from multimodal_genre.families.networks import NetworkFamily
from multimodal_genre.families.registry import FAMILIES, family, register
from multimodal_genre.families.stack import StackFamily
from multimodal_genre.families.xgboost import XGBoostFamily

register(NetworkFamily("fused", views=("image", "features"), optional=("pretrained",)))
register(NetworkFamily("cnn", views=("image",)))
register(NetworkFamily("mlp", views=("features",)))
register(NetworkFamily("musicnn", views=("pretrained",), optional=("features",)))
register(XGBoostFamily())
register(StackFamily())

__all__ = ["FAMILIES", "BaggedFamily", "BaggingConfig", "Family", "TrainedModel", "family", "register"]
