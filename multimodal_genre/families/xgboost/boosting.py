"""Building and fitting XGBoost's classifier, and pruning it in a study.

The number of rounds is set by early stopping on the grouped validation split; without a
validation side the trees grow for ``max_rounds``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
import xgboost
from optuna_integration import XGBoostPruningCallback

from multimodal_genre import workers
from multimodal_genre.data import Labelled
from multimodal_genre.families.base import Fitted
from multimodal_genre.families.xgboost.settings import XGBoostConfig

# What pruning watches: the validation AUC, which rises like the objective.
PRUNING_KEY = "validation_1-auc"
PRUNING_INTERVAL = 10  # rounds between reports


def build_xgboost(settings: XGBoostConfig, seed: int) -> xgboost.XGBClassifier:
    """Boosted trees; ``max_rounds`` is a ceiling, early stopping on the validation split picks the count."""
    return xgboost.XGBClassifier(
        n_estimators=settings.max_rounds,
        early_stopping_rounds=settings.early_stopping_rounds,
        max_depth=settings.max_depth,
        learning_rate=settings.learning_rate,
        subsample=settings.subsample,
        colsample_bytree=settings.colsample_bytree,
        min_child_weight=settings.min_child_weight,
        reg_alpha=settings.reg_alpha,
        reg_lambda=settings.reg_lambda,
        objective="multi:softprob",
        # Early stopping watches the last metric; the AUC (higher is better) is there for pruning
        # tuning trials, whose objective is maximised.
        eval_metric=["auc", "mlogloss"],
        tree_method="hist",
        n_jobs=workers.threads(),
        random_state=seed,
    )


def train_xgboost(
    settings: XGBoostConfig,
    train: Labelled,
    validation: Labelled | None,
    seed: int,
    callbacks: Sequence[xgboost.callback.TrainingCallback] = (),
) -> Fitted:
    """Boosting on the feature rows, stopping early on the validation rows' loss where given."""
    model = build_xgboost(settings, seed)
    sides = [(train.tracks.features, train.labels)]
    if validation:
        sides.append((validation.tracks.features, validation.labels))
    else:
        model.set_params(early_stopping_rounds=None)
    if callbacks:
        model.set_params(callbacks=list(callbacks))
    started = time.perf_counter()
    model.fit(train.tracks.features, train.labels, eval_set=sides, verbose=False)
    seconds = time.perf_counter() - started
    curves = model.evals_result()
    history = pd.DataFrame({"loss": curves["validation_0"]["mlogloss"]})
    if len(sides) > 1:
        history["val_loss"] = curves["validation_1"]["mlogloss"]
    history.insert(0, "round", np.arange(1, len(history) + 1))
    kept = model.best_iteration + 1 if len(sides) > 1 else len(history)
    return Fitted(model, history, kept, seconds)


class SparseXGBoostPruning(XGBoostPruningCallback):
    """optuna-integration's XGBoost callback on the validation AUC, consulted every ``interval``
    rounds: a trial may run thousands of rounds, and each report is a write to the study's storage."""

    def __init__(self, trial: optuna.Trial, interval: int = PRUNING_INTERVAL) -> None:
        super().__init__(trial, PRUNING_KEY)
        self.interval = interval

    def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
        if (epoch + 1) % self.interval:
            return False
        return super().after_iteration(model, epoch, evals_log)
