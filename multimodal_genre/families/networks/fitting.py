"""Fitting a Keras network on the training side of a split, with early stopping on its validation side.

The validation side is the grouped validation split, never Keras' ``validation_split`` (which would
take the last rows of a genre-sorted CSV). Training data is reshuffled every epoch, and every run
is seeded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from multimodal_genre.data import GENRES, Labelled
from multimodal_genre.errors import DivergedError
from multimodal_genre.families.base import Family, Fitted
from multimodal_genre.families.networks.build import (
    GENRE_OUTPUT,
    IMAGE_INPUT,
    build_network,
    cropping_parts,
    has_auxiliary_heads,
    inference_model,
    model_inputs,
)
from multimodal_genre.families.networks.settings import NetworkConfig, TrainingConfig

logger = logging.getLogger(__name__)


def train_network(
    family: Family,
    settings: NetworkConfig,
    train: Labelled,
    validation: Labelled | None,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> Fitted:
    """Keras' fit with early stopping (restoring the best epoch) and the configured learning-rate
    schedule, then the batch-norm statistics settled for the kept weights. Progress: Keras' bar on a
    watched terminal, else a logged line per epoch."""
    keras.backend.clear_session()  # a fresh graph state (layer names, caches) for every network trained
    keras.utils.set_random_seed(seed)
    shape = train.tracks.images.shape[1:]
    model = build_network(
        family.name, settings, shape, train.tracks.features, seed=seed, training_views=train.tracks.embeddings
    )
    _compile(model, settings)
    stopping = _early_stopping(settings) if family.watches_validation(settings) and validation else None
    started = time.perf_counter()
    train_inputs = model_inputs(model, train.tracks)
    fitted = model.fit(
        **_training_data(model, settings, train_inputs, train.labels, seed),
        validation_data=_validation_data(model, settings, validation),
        epochs=settings.training.epochs,
        callbacks=_callbacks(family.name, settings, stopping, callbacks),
        verbose=0,
    )
    settle_batch_norm(model, train_inputs, settings.training.batch_size)
    history = _history(model, settings, fitted.history)
    kept = stopping.best_epoch + 1 if stopping is not None else len(history)
    return Fitted(inference_model(model), history, kept, time.perf_counter() - started)


def _callbacks(
    name: str,
    settings: NetworkConfig,
    stopping: keras.callbacks.EarlyStopping | None,
    watching: Sequence[keras.callbacks.Callback],
) -> list[keras.callbacks.Callback]:
    """The training's own callbacks (divergence, early stopping, the learning rate, a line per
    epoch), then the caller's."""
    return [
        Divergence(name, settings.training.learning_rate),
        *([stopping] if stopping else []),
        _learning_rate_schedule(settings, stopping is not None),
        *watching,
        EpochLine(name, settings.training.epochs),
    ]


def _validation_data(
    model: keras.Model, settings: NetworkConfig, validation: Labelled | None
) -> tuple[dict[str, np.ndarray], Any] | None:
    """What early stopping watches: the validation side's inputs and targets (None without one)."""
    if not validation:
        return None
    return model_inputs(model, validation.tracks), _targets(model, settings, validation.labels)


def _training_data(
    model: keras.Model, settings: NetworkConfig, inputs: dict[str, np.ndarray], labels: np.ndarray, seed: int
) -> dict[str, Any]:
    """``fit``'s training arguments: the arrays, reshuffled each epoch, or their mixup batches."""
    training = settings.training
    if not training.mixup:
        return {"x": inputs, "y": _targets(model, settings, labels), "batch_size": training.batch_size, "shuffle": True}
    targets = _targets(model, settings, labels)
    return {"x": MixupBatches(inputs, targets, training.batch_size, training.mixup, seed)}


class MixupBatches(keras.utils.PyDataset):
    """Mixup (Zhang et al. 2018): each example blended with another of the same batch, both views
    and the one-hot genres by the same share, drawn from Beta(alpha, alpha) per example; the rows
    are reshuffled every epoch. Seeded, so a training repeats exactly."""

    def __init__(
        self,
        inputs: dict[str, np.ndarray],
        targets: np.ndarray | dict[str, np.ndarray],
        batch_size: int,
        alpha: float,
        seed: int,
    ) -> None:
        super().__init__()
        self.inputs, self.targets, self.batch_size, self.alpha = inputs, targets, batch_size, alpha
        self.rows = len(next(iter(inputs.values())))
        self.generator = np.random.default_rng(seed)
        self.order = self.generator.permutation(self.rows)

    def __len__(self) -> int:
        return -(-self.rows // self.batch_size)

    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray], np.ndarray | dict[str, np.ndarray]]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        partners = self.generator.permutation(rows)
        share = self.generator.beta(self.alpha, self.alpha, size=len(rows)).astype(np.float32)

        def blend(array: np.ndarray) -> np.ndarray:
            weight = share.reshape(-1, *[1] * (array.ndim - 1))
            return weight * array[rows] + (1.0 - weight) * array[partners]

        targets = (
            {name: blend(value) for name, value in self.targets.items()}
            if isinstance(self.targets, dict)
            else blend(self.targets)
        )
        return {name: blend(array) for name, array in self.inputs.items()}, targets

    def on_epoch_end(self) -> None:
        self.order = self.generator.permutation(self.rows)


def _early_stopping(settings: NetworkConfig) -> keras.callbacks.EarlyStopping:
    rule = settings.training.early_stopping
    return keras.callbacks.EarlyStopping(
        monitor=log_name(settings, rule.monitor),
        mode=_mode(rule.monitor),
        patience=rule.patience,
        restore_best_weights=True,
    )


def _learning_rate_schedule(settings: NetworkConfig, validating: bool) -> keras.callbacks.Callback:
    """The callback that sets the learning rate each epoch (and logs it)."""
    if settings.training.schedule == "cosine":
        return _cosine_schedule(settings.training)
    return _plateau_schedule(settings, validating)


def _cosine_schedule(training: TrainingConfig) -> keras.callbacks.LearningRateScheduler:
    """Keras' cosine decay counted in epochs: a linear warm-up from a ``warmup_epochs + 1``-th of the
    rate, then down along a half cosine towards zero at ``epochs``. Training ends where the rate is
    spent, so no epochs go by at a rate too high to settle or too low to matter."""
    warmup, rate = training.warmup_epochs, training.learning_rate
    decay = keras.optimizers.schedules.CosineDecay(
        rate / (warmup + 1), training.epochs - warmup, warmup_target=rate, warmup_steps=warmup
    )
    return keras.callbacks.LearningRateScheduler(lambda epoch: float(decay(epoch)))


def _plateau_schedule(settings: NetworkConfig, validating: bool) -> keras.callbacks.ReduceLROnPlateau:
    """Without a validation side the learning rate follows the training loss (the last epoch is kept)."""
    plateau = settings.training.reduce_lr
    monitored = log_name(settings, plateau.monitor if validating else plateau.monitor.removeprefix("val_"))
    return keras.callbacks.ReduceLROnPlateau(
        monitor=monitored,
        mode=_mode(monitored),
        factor=plateau.factor,
        patience=plateau.patience,
        min_lr=plateau.min_learning_rate,
    )


def _history(model: keras.Model, settings: NetworkConfig, logs: dict[str, list[float]]) -> pd.DataFrame:
    """The per-epoch logs, first column ``epoch``. With auxiliary heads, "loss" is the weighted sum
    over all heads; the fused output's own figures take the plain names, so every history reads the same."""
    history = pd.DataFrame(logs)
    if isinstance(model.output, dict):
        history = history.rename(columns=_TOTALS | {log_name(settings, key): key for key in _FUSED_LOGS})
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    return history


def log_name(settings: NetworkConfig, key: str) -> str:
    """How a quantity such as ``val_accuracy`` is named in the training logs of ``settings``' model:
    with auxiliary heads, the fused output's own figures carry its name (``val_genre_accuracy``)."""
    if not has_auxiliary_heads(settings):
        return key
    return key.replace("val_", f"val_{GENRE_OUTPUT}_") if key.startswith("val_") else f"{GENRE_OUTPUT}_{key}"


def settle_batch_norm(model: keras.Model, inputs: dict[str, np.ndarray], batch_size: int) -> None:
    """Set every batch-norm layer's moving mean and variance to the exact statistics of its input
    over ``inputs`` (the training rows), layer by layer in inference mode, with the final weights.
    A network trained on time windows settles on the middle window of each row.

    With about 25 steps an epoch, exponential moving averages lag the weights, and early stopping
    may restore an epoch whose averages had not settled; recomputing them makes the statistics
    match the restored weights exactly, without dropout or augmentation noise in them.
    """
    parts = cropping_parts(model)
    if parts is not None:
        crop, model = parts
        inputs = {**inputs, IMAGE_INPUT: np.asarray(crop(inputs[IMAGE_INPUT], training=False))}
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


class Divergence(keras.callbacks.Callback):
    """Stops a training whose loss is not finite, or ``LIMIT`` times that of a uniform guess (ln 10):
    its weights are noise by then, and training on would only report noise as a model."""

    LIMIT = 100.0

    def __init__(self, name: str, learning_rate: float) -> None:
        super().__init__()
        self.name, self.learning_rate = name, learning_rate

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss, guess = float((logs or {}).get("loss", 0.0)), float(np.log(len(GENRES)))
        if not np.isfinite(loss) or loss > self.LIMIT * guess:
            raise DivergedError(
                f"{self.name} diverged at epoch {epoch + 1}: training loss {loss:.4g} against {guess:.3g} for a "
                f"uniform guess; try a lower training.learning_rate than {self.learning_rate:g}"
            )


class EpochLine(keras.callbacks.Callback):
    """One short logged line per epoch (at debug level: a command shows them with ``--verbose``),
    within 80 columns: the genre head's loss and accuracy on the training and validation rows (a
    network with auxiliary heads logs many more; its run folder's history.csv keeps them all)."""

    def __init__(self, name: str, epochs: int) -> None:
        super().__init__()
        self.name, self.epochs = name, epochs

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        values = [
            f"{label} {logs[key]:.4f}"
            for label, keys in _EPOCH_LINE.items()
            if (key := next((key for key in keys if key in logs), None)) is not None
        ]
        logger.debug("%s epoch %d/%d: %s", self.name, epoch + 1, self.epochs, " ".join(values))


# Each figure of the epoch line and the Keras log keys it is read from: the genre head's own where
# auxiliary heads add theirs, else the model's.
_EPOCH_LINE = {
    "loss": ("genre_loss", "loss"),
    "acc": ("genre_accuracy", "accuracy"),
    "val_loss": ("val_genre_loss", "val_loss"),
    "val_acc": ("val_genre_accuracy", "val_accuracy"),
}


_LOSS = "sparse_categorical_crossentropy"
_MIXED_LOSS = "categorical_crossentropy"
_FUSED_LOGS = ("loss", "accuracy", "val_loss", "val_accuracy")
_TOTALS = {"loss": "total_loss", "val_loss": "val_total_loss"}


def _compile(model: keras.Model, settings: NetworkConfig) -> None:
    """Sparse targets, or one-hot ones where mixup blends them."""
    optimizer = _optimizer(settings.training)
    loss = _MIXED_LOSS if settings.training.mixup else _LOSS
    if not isinstance(model.output, dict):
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        return
    weights = {name: 1.0 if name == GENRE_OUTPUT else settings.head.auxiliary_weight for name in model.output}
    model.compile(
        optimizer=optimizer,
        loss={name: loss for name in model.output},
        loss_weights=weights,
        metrics={GENRE_OUTPUT: ["accuracy"]},
    )


def _mode(monitor: str) -> str:
    return "min" if monitor.endswith("loss") else "max"


def _targets(model: keras.Model, settings: NetworkConfig, labels: np.ndarray) -> np.ndarray | dict[str, np.ndarray]:
    if settings.training.mixup:
        labels = np.eye(len(GENRES), dtype=np.float32)[labels]
    return {name: labels for name in model.output} if isinstance(model.output, dict) else labels


def _optimizer(settings: TrainingConfig) -> keras.optimizers.Optimizer:
    if settings.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=settings.learning_rate, weight_decay=settings.weight_decay)
    if settings.optimizer == "nadam":
        return keras.optimizers.Nadam(learning_rate=settings.learning_rate)
    return keras.optimizers.Adam(learning_rate=settings.learning_rate)
