"""The networks' own layers, and every random layer seeded.

Every random layer (weights, dropout, augmentation) gets its own seed from the training seed and its
name. Keras draws the seeds of unseeded layers from Python's shared ``random`` generator, which other
threads of a process draw from too (a Dask worker's event loop does), so only explicit seeds give
the same network wherever it is built. The custom layers are registered with Keras, so a saved
network holding them loads with Keras' safe mode on.
"""

from __future__ import annotations

import zlib

import keras
import numpy as np
from keras import layers, ops

from multimodal_genre.families.networks.settings import MaskingConfig


def layer_seed(seed: int, name: str) -> int:
    """The seed of the layer ``name`` in a network trained with ``seed``: the same wherever and in
    whatever order the network is built."""
    return zlib.crc32(f"{seed}/{name}".encode()) % 2**31


def seeded_initializer(seed: int, name: str) -> keras.initializers.Initializer:
    """Keras' default kernel initializer, seeded for the layer ``name``."""
    return keras.initializers.GlorotUniform(layer_seed(seed, name))


def dense(width: int, activation: str, seed: int, name: str) -> layers.Dense:
    """A dense layer with seeded weights."""
    return layers.Dense(width, activation=activation, kernel_initializer=seeded_initializer(seed, name), name=name)


def dropout(rate: float, seed: int, name: str, noise_shape: tuple[int | None, ...] | None = None) -> layers.Dropout:
    """A dropout layer with a seeded mask."""
    return layers.Dropout(rate, noise_shape=noise_shape, seed=layer_seed(seed, name), name=name)


@keras.saving.register_keras_serializable(package="multimodal_genre")
class SpectrogramMasking(layers.Layer):
    """SpecAugment's masks (Park et al. 2019) in training: ``time_masks`` bands of whole columns and
    ``frequency_masks`` bands of whole rows set to zero, each of a random width up to ``time_width``
    of the width (``frequency_width`` of the height) at a random place. At inference it passes the
    image through."""

    def __init__(
        self,
        time_masks: int,
        time_width: float,
        frequency_masks: int,
        frequency_width: float,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.time_masks, self.time_width = time_masks, time_width
        self.frequency_masks, self.frequency_width = frequency_masks, frequency_width
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, x: keras.KerasTensor, training: bool = False) -> keras.KerasTensor:
        if not training:
            return x
        batch, height, width = ops.shape(x)[0], x.shape[1], x.shape[2]
        keep = ops.ones_like(x[:, :, :, :1])
        for _ in range(self.time_masks):
            keep = keep * ops.reshape(self._outside_band(batch, width, self.time_width), (-1, 1, width, 1))
        for _ in range(self.frequency_masks):
            keep = keep * ops.reshape(self._outside_band(batch, height, self.frequency_width), (-1, height, 1, 1))
        return x * keep

    def _outside_band(self, batch: int, size: int, fraction: float) -> keras.KerasTensor:
        """Per example, 1 outside and 0 inside one band of 0 to ``fraction * size`` positions."""
        longest = int(fraction * size)
        span = ops.floor(keras.random.uniform((batch, 1), 0.0, longest + 1.0, seed=self.generator))
        start = ops.floor(keras.random.uniform((batch, 1), seed=self.generator) * (size - span + 1.0))
        positions = ops.cast(ops.arange(size)[None, :], "float32")
        inside = ops.logical_and(positions >= start, positions < start + span)
        return 1.0 - ops.cast(inside, "float32")

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "time_masks": self.time_masks,
            "time_width": self.time_width,
            "frequency_masks": self.frequency_masks,
            "frequency_width": self.frequency_width,
            "seed": self.seed,
        }


def masking_layer(settings: MaskingConfig, seed: int) -> SpectrogramMasking:
    """The image branch's masking, seeded like every random layer."""
    name = "image_masking"
    return SpectrogramMasking(
        settings.time_masks,
        settings.time_width,
        settings.frequency_masks,
        settings.frequency_width,
        seed=layer_seed(seed, name),
        name=name,
    )


@keras.saving.register_keras_serializable(package="multimodal_genre")
class RandomTimeCrop(layers.Layer):
    """A window of ``width`` columns: at a random place for each example in training, the middle one
    at inference. ``test_crops`` is how many windows ``inference_model`` averages in its place."""

    def __init__(self, width: int, test_crops: int, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.width, self.test_crops, self.seed = width, test_crops, seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, x: keras.KerasTensor, training: bool = False) -> keras.KerasTensor:
        spare = x.shape[2] - self.width
        if not training:
            return x[:, :, spare // 2 : spare // 2 + self.width, :]
        batch = ops.shape(x)[0]
        start = ops.floor(keras.random.uniform((batch, 1), seed=self.generator) * (spare + 1.0))
        columns = ops.cast(start, "int32") + ops.arange(self.width, dtype="int32")[None, :]
        columns = ops.broadcast_to(columns[:, None, :, None], (batch, x.shape[1], self.width, x.shape[3]))
        return ops.take_along_axis(x, columns, axis=2)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], input_shape[1], self.width, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "width": self.width, "test_crops": self.test_crops, "seed": self.seed}


@keras.saving.register_keras_serializable(package="multimodal_genre")
class TimeCrops(layers.Layer):
    """``count`` evenly spaced windows of ``width`` columns, the first and last at the image's ends,
    stacked into the batch: example i's windows are rows i*count to (i+1)*count - 1."""

    def __init__(self, width: int, count: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.width, self.count = width, count

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        starts = np.linspace(0, x.shape[2] - self.width, self.count).round().astype(int)
        windows = ops.stack([x[:, :, start : start + self.width, :] for start in starts], axis=1)
        return ops.reshape(windows, (-1, x.shape[1], self.width, x.shape[3]))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (None, input_shape[1], self.width, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "width": self.width, "count": self.count}


@keras.saving.register_keras_serializable(package="multimodal_genre")
class RepeatRows(layers.Layer):
    """Each row ``count`` times in a row, to go beside ``TimeCrops``' windows."""

    def __init__(self, count: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.count = count

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return ops.repeat(x, self.count, axis=0)

    def get_config(self) -> dict:
        return {**super().get_config(), "count": self.count}


@keras.saving.register_keras_serializable(package="multimodal_genre")
class MeanOverCrops(layers.Layer):
    """The mean of each example's ``count`` consecutive rows: its windows' probabilities averaged."""

    def __init__(self, count: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.count = count

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return ops.mean(ops.reshape(x, (-1, self.count, x.shape[-1])), axis=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (None, input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "count": self.count}


@keras.saving.register_keras_serializable(package="multimodal_genre")
class LogVariances(layers.Layer):
    """Natural log of the variance columns; the other columns pass through unchanged."""

    def __init__(self, columns: list[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.columns = list(columns)

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        chosen = np.isin(np.arange(x.shape[-1]), self.columns)
        return ops.where(chosen, ops.log(ops.maximum(x, 1e-12)), x)

    def get_config(self) -> dict:
        return {**super().get_config(), "columns": self.columns}
