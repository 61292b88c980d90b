"""The settings of XGBoost's gradient-boosted trees; ``boosting.py`` builds and fits them."""

from __future__ import annotations

import dataclasses

from multimodal_genre.settings import Problems, Settings


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
