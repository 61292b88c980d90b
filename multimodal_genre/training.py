"""Fitting one model on the training side of a split, with early stopping on its validation side.

The validation side is the grouped validation split, never Keras' ``validation_split`` (which would
take the last rows of a genre-sorted CSV). Training data is reshuffled every epoch, and every run
is seeded.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from typing import Literal

import keras
import numpy as np
import pandas as pd
import xgboost

from multimodal_genre.config import Config, NetworkConfig, TrainingConfig, XGBoostConfig
from multimodal_genre.data import GENRES, GenreDataset, Split
from multimodal_genre.errors import DataError
from multimodal_genre.models import (
    GENRE_OUTPUT,
    build_network,
    build_xgboost,
    has_auxiliary_heads,
    inference_model,
    model_inputs,
)

Progress = Literal["bar", "lines", "silent"]
Write = Callable[[str], None]


@dataclasses.dataclass
class TrainedModel:
    """A fitted model and what its training did."""

    name: str
    model: keras.Model | xgboost.XGBClassifier
    history: pd.DataFrame  # first column "epoch" (networks) or "round" (XGBoost), then the losses
    best_epoch: int  # 1-based epoch or round whose weights were kept
    seconds: float

    @property
    def unit(self) -> str:
        return str(self.history.columns[0])


def default_progress() -> Progress:
    """Keras' progress bar on a terminal, one line per epoch in a log or a pipe."""
    return "bar" if sys.stdout.isatty() else "lines"


def train_model(
    name: str,
    config: Config,
    dataset: GenreDataset,
    split: Split,
    progress: Progress = "silent",
    write: Write = print,
    callbacks: Sequence[keras.callbacks.Callback | xgboost.callback.TrainingCallback] = (),
) -> TrainedModel:
    """Train the model ``name`` (fused, cnn, mlp or xgboost) as ``config`` describes it.

    ``callbacks`` (Keras callbacks for a network, XGBoost ones for XGBoost) see every epoch or
    round; tuning uses them for pruning. With an empty validation side there is no early stopping:
    a network trains for ``training.epochs`` and XGBoost for ``max_rounds``.
    """
    missing = sorted(set(range(len(GENRES))) - set(dataset.labels[split.train].tolist()))
    if missing:
        names = ", ".join(GENRES[code] for code in missing)
        raise DataError(f"{dataset.root}: the training split has no tracks of {names}; every genre needs some")
    if name == "xgboost":
        return train_xgboost(config.models.xgboost, dataset, split, config.seed, callbacks)
    return train_network(name, getattr(config.models, name), dataset, split, config.seed, progress, write, callbacks)


def train_network(
    name: str,
    config: NetworkConfig,
    dataset: GenreDataset,
    split: Split,
    seed: int,
    progress: Progress = "silent",
    write: Write = print,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainedModel:
    keras.utils.set_random_seed(seed)
    model = build_network(name, config, dataset.images.shape[1:], dataset.features[split.train])
    _compile(model, config)
    settings = config.training
    validating = len(split.validation) > 0
    # Without a validation side the learning rate follows the training loss, and every epoch is kept.
    monitored = log_name(config, settings.reduce_lr.monitor if validating else settings.reduce_lr.monitor[4:])
    schedule = [
        keras.callbacks.ReduceLROnPlateau(
            monitor=monitored,
            mode=_mode(monitored),
            factor=settings.reduce_lr.factor,
            patience=settings.reduce_lr.patience,
            min_lr=settings.reduce_lr.min_learning_rate,
        ),
        *callbacks,
    ]
    stopping = None
    if validating:
        stopping = keras.callbacks.EarlyStopping(
            monitor=log_name(config, settings.early_stopping.monitor),
            mode=_mode(settings.early_stopping.monitor),
            patience=settings.early_stopping.patience,
            restore_best_weights=True,
        )
        schedule.insert(0, stopping)
    if progress == "lines":
        schedule.append(EpochLine(name, settings.epochs, write))
    started = time.perf_counter()
    train_inputs = model_inputs(model, dataset.images[split.train], dataset.features[split.train])
    validation_data = None
    if validating:
        validation_data = (
            model_inputs(model, dataset.images[split.validation], dataset.features[split.validation]),
            _targets(model, dataset.labels[split.validation]),
        )
    fitted = model.fit(
        train_inputs,
        _targets(model, dataset.labels[split.train]),
        validation_data=validation_data,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        shuffle=True,
        callbacks=schedule,
        verbose=1 if progress == "bar" else 0,
    )
    settle_batch_norm(model, train_inputs, settings.batch_size)
    history = pd.DataFrame(fitted.history)
    if isinstance(model.output, dict):
        # "loss" is the weighted sum over all heads; the fused output's own figures take the plain
        # names, so that every model's history reads the same.
        history = history.rename(columns=_TOTALS | {log_name(config, key): key for key in _FUSED_LOGS})
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    seconds = time.perf_counter() - started
    best_epoch = stopping.best_epoch + 1 if stopping is not None else len(history)
    return TrainedModel(name, inference_model(model), history, best_epoch, seconds)


def train_xgboost(
    config: XGBoostConfig,
    dataset: GenreDataset,
    split: Split,
    seed: int,
    callbacks: Sequence[xgboost.callback.TrainingCallback] = (),
) -> TrainedModel:
    model = build_xgboost(config, seed)
    features, labels = dataset.features, dataset.labels
    sides = [(features[split.train], labels[split.train])]
    if len(split.validation):
        sides.append((features[split.validation], labels[split.validation]))
    else:
        model.set_params(early_stopping_rounds=None)
    if callbacks:
        model.set_params(callbacks=list(callbacks))
    started = time.perf_counter()
    model.fit(features[split.train], labels[split.train], eval_set=sides, verbose=False)
    seconds = time.perf_counter() - started
    curves = model.evals_result()
    history = pd.DataFrame({"loss": curves["validation_0"]["mlogloss"]})
    if len(sides) > 1:
        history["val_loss"] = curves["validation_1"]["mlogloss"]
    history.insert(0, "round", np.arange(1, len(history) + 1))
    best_round = model.best_iteration + 1 if len(sides) > 1 else len(history)
    return TrainedModel("xgboost", model, history, best_round, seconds)


def log_name(config: NetworkConfig, key: str) -> str:
    """How a quantity such as ``val_accuracy`` is named in the training logs of ``config``'s model:
    with auxiliary heads, the fused output's own figures carry its name (``val_genre_accuracy``)."""
    if not has_auxiliary_heads(config):
        return key
    return key.replace("val_", f"val_{GENRE_OUTPUT}_") if key.startswith("val_") else f"{GENRE_OUTPUT}_{key}"


def settle_batch_norm(model: keras.Model, inputs: dict[str, np.ndarray], batch_size: int) -> None:
    """Set every batch-norm layer's moving mean and variance to the exact statistics of its input
    over ``inputs`` (the training rows), layer by layer in inference mode, with the final weights.

    With about 25 steps an epoch, exponential moving averages lag the weights, and early stopping
    may restore an epoch whose averages had not settled; recomputing them makes the statistics
    match the restored weights exactly, without dropout or augmentation noise in them.
    """
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        upstream = keras.Model(model.input, layer.input)
        total = total_squares = 0.0
        count = 0
        for start in range(0, len(next(iter(inputs.values()))), batch_size):
            batch = {name: array[start : start + batch_size] for name, array in inputs.items()}
            values = np.asarray(upstream(batch, training=False), dtype=np.float64)
            values = values.reshape(-1, values.shape[-1])
            total = total + values.sum(axis=0)
            total_squares = total_squares + (values**2).sum(axis=0)
            count += len(values)
        mean = total / count
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(total_squares / count - mean**2, 0.0).astype(np.float32))


class EpochLine(keras.callbacks.Callback):
    """One line per epoch, for logs and pipes where a progress bar would be noise."""

    def __init__(self, name: str, epochs: int, write: Write) -> None:
        super().__init__()
        self.name, self.epochs, self.write = name, epochs, write

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        values = " ".join(f"{key} {value:.4g}" for key, value in (logs or {}).items())
        self.write(f"{self.name} epoch {epoch + 1}/{self.epochs}: {values}")


_LOSS = "sparse_categorical_crossentropy"
_FUSED_LOGS = ("loss", "accuracy", "val_loss", "val_accuracy")
_TOTALS = {"loss": "total_loss", "val_loss": "val_total_loss"}


def _compile(model: keras.Model, config: NetworkConfig) -> None:
    optimizer = _optimizer(config.training)
    if not isinstance(model.output, dict):
        model.compile(optimizer=optimizer, loss=_LOSS, metrics=["accuracy"])
        return
    weights = {name: 1.0 if name == GENRE_OUTPUT else config.head.auxiliary_weight for name in model.output}
    model.compile(
        optimizer=optimizer,
        loss={name: _LOSS for name in model.output},
        loss_weights=weights,
        metrics={GENRE_OUTPUT: ["accuracy"]},
    )


def _mode(monitor: str) -> str:
    return "min" if monitor.endswith("loss") else "max"


def _targets(model: keras.Model, labels: np.ndarray) -> np.ndarray | dict[str, np.ndarray]:
    return {name: labels for name in model.output} if isinstance(model.output, dict) else labels


def _optimizer(config: TrainingConfig) -> keras.optimizers.Optimizer:
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=config.learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "nadam":
        return keras.optimizers.Nadam(learning_rate=config.learning_rate)
    return keras.optimizers.Adam(learning_rate=config.learning_rate)
