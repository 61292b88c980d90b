"""XGBoost: gradient-boosted trees on the raw feature row, its settings and its family.

``boosting.py`` builds and fits the trees; XGBoost is imported there, when a model is first
trained, loaded or pruned, not when a config is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multimodal_genre.families.base import Family, TrainedModel
from multimodal_genre.settings import Problems, Settings

if TYPE_CHECKING:
    import optuna

    from multimodal_genre.data import GenreDataset, Split

XGBOOST_MODEL = "model.json"


@dataclasses.dataclass(frozen=True)
class XGBoostConfig(Settings):
    """Gradient-boosted trees on the raw feature row; the number of rounds comes from early stopping."""

    max_depth: int
    learning_rate: float
    subsample: float
    colsample_bytree: float
    min_child_weight: float
    reg_alpha: float
    reg_lambda: float
    max_rounds: int
    early_stopping_rounds: int

    def problems(self) -> Problems:
        for name in ("max_depth", "learning_rate", "max_rounds", "early_stopping_rounds"):
            if getattr(self, name) <= 0:
                yield name, f"must be positive, got {getattr(self, name)}"
        for name in ("subsample", "colsample_bytree"):
            if not 0.0 < getattr(self, name) <= 1.0:
                yield name, f"must be in (0, 1], got {getattr(self, name)}"
        for name in ("min_child_weight", "reg_alpha", "reg_lambda"):
            if getattr(self, name) < 0:
                yield name, f"must not be negative, got {getattr(self, name)}"


class XGBoostFamily(Family):
    """XGBoost's classifier, saved in XGBoost's own JSON format."""

    name = "xgboost"
    settings = XGBoostConfig
    views = ("features",)
    unit = "round"
    length_setting = "max_rounds"
    files = (XGBOOST_MODEL,)

    def fit(
        self, settings: XGBoostConfig, dataset: GenreDataset, split: Split, seed: int, callbacks: Sequence[Any] = ()
    ) -> TrainedModel:
        from multimodal_genre.boosting import train_xgboost

        return train_xgboost(self, settings, dataset, split, seed, callbacks)

    def predict_proba(self, model: Any, images: np.ndarray, features: np.ndarray) -> np.ndarray:
        return model.predict_proba(features)

    def save(self, model: Any, directory: Path) -> None:
        model.save_model(directory / XGBOOST_MODEL)

    def load(self, directory: Path) -> Any:
        import xgboost

        model = xgboost.XGBClassifier()
        model.load_model(directory / XGBOOST_MODEL)
        return model

    def pruning_callback(self, trial: optuna.Trial, settings: XGBoostConfig) -> Any:
        from multimodal_genre.boosting import SparseXGBoostPruning

        return SparseXGBoostPruning(trial)
