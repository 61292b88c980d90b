"""XGBoost's family (``XGBoostFamily``), registered when the xgboost model is first asked for."""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multimodal_genre.errors import RunError, first_line
from multimodal_genre.families.base import Family, Fitted
from multimodal_genre.families.registry import register
from multimodal_genre.families.xgboost.settings import XGBoostConfig

if TYPE_CHECKING:
    import optuna

    from multimodal_genre.data import Labelled, Tracks

XGBOOST_MODEL = "model.json"


class XGBoostFamily(Family):
    """XGBoost's classifier, saved in XGBoost's own JSON format."""

    name = "xgboost"
    settings = XGBoostConfig
    views = ("features",)
    unit = "round"
    shades = ("#ff7f0e", "#ffbb78", "#a34d00", "#ffa040", "#5c2b00")
    length_setting = "max_rounds"
    files = (XGBOOST_MODEL,)

    def fit(
        self,
        settings: XGBoostConfig,
        train: Labelled,
        validation: Labelled | None,
        seed: int,
        callbacks: Sequence[Any] = (),
    ) -> Fitted:
        from multimodal_genre.families.xgboost.boosting import train_xgboost

        return train_xgboost(settings, train, validation, seed, callbacks)

    def predict_proba(self, model: Any, tracks: Tracks) -> np.ndarray:
        return model.predict_proba(tracks.features)

    def save(self, model: Any, directory: Path) -> None:
        import xgboost

        path = directory / XGBOOST_MODEL
        try:
            model.save_model(path)
        except xgboost.core.XGBoostError:  # its writer words a full disk as a failed internal check
            raise OSError(errno.EIO, "XGBoost could not write the model (is the disk full?)", str(path)) from None

    def load(self, directory: Path) -> Any:
        import xgboost

        path = directory / XGBOOST_MODEL
        model = xgboost.XGBClassifier()
        try:
            model.load_model(path)
        except (xgboost.core.XGBoostError, ValueError) as error:
            raise RunError(f"{path}: damaged or not a model this package saved ({first_line(error)})") from None
        return model

    def pruning_callback(self, trial: optuna.Trial, settings: XGBoostConfig) -> Any:
        from multimodal_genre.families.xgboost.boosting import SparseXGBoostPruning

        return SparseXGBoostPruning(trial)


register(XGBoostFamily())
