"""The Keras networks, built from their settings.

Three builders, an image branch, a tabular branch and a classification head, compose every
network: the fused model is both branches into the head, the CNN-only and MLP-only baselines are one
branch into the same head. A branch is written once, here. Inputs are named ``image`` and
``features``, so a saved model says what it expects.

Every random layer (weights, dropout, augmentation) gets its own seed from the training seed and its
name. Keras draws the seeds of unseeded layers from Python's shared ``random`` generator, which other
threads of a process draw from too (a Dask worker's event loop does), so only explicit seeds give
the same network wherever it is built.
"""

from __future__ import annotations

import dataclasses
import os
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from multimodal_genre.data import FEATURE_COLUMNS, GENRES
from multimodal_genre.errors import ConfigError
from multimodal_genre.families.network_settings import (
    BackboneConfig,
    HeadConfig,
    ImageBranchConfig,
    MaskingConfig,
    NetworkConfig,
    TabularBranchConfig,
    TimeCropConfig,
)

IMAGE_INPUT = "image"
FEATURES_INPUT = "features"
GENRE_OUTPUT = "genre"


def layer_seed(seed: int, name: str) -> int:
    """The seed of the layer ``name`` in a network trained with ``seed``: the same wherever and in
    whatever order the network is built."""
    return zlib.crc32(f"{seed}/{name}".encode()) % 2**31


def _weights(seed: int, name: str) -> keras.initializers.Initializer:
    """Keras' default kernel initializer, seeded for the layer ``name``."""
    return keras.initializers.GlorotUniform(layer_seed(seed, name))


def dense(width: int, activation: str, seed: int, name: str) -> layers.Dense:
    """A dense layer with seeded weights."""
    return layers.Dense(width, activation=activation, kernel_initializer=_weights(seed, name), name=name)


def dropout(rate: float, seed: int, name: str, noise_shape: tuple[int | None, ...] | None = None) -> layers.Dropout:
    """A dropout layer with a seeded mask."""
    return layers.Dropout(rate, noise_shape=noise_shape, seed=layer_seed(seed, name), name=name)


def conv_block(
    x: keras.KerasTensor, filters: int, config: ImageBranchConfig, seed: int, name: str
) -> keras.KerasTensor:
    """Convolutions (with batch norm and ReLU), then 2x2 pooling and dropout."""
    for index in range(1, config.convs_per_block + 1):
        conv = f"{name}_conv{index}"
        x = layers.Conv2D(
            filters,
            config.kernel_size,
            padding="same",
            use_bias=not config.batch_norm,
            kernel_initializer=_weights(seed, conv),
            name=conv,
        )(x)
        if config.batch_norm:
            x = layers.BatchNormalization(momentum=config.batch_norm_momentum, name=f"{name}_bn{index}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{index}")(x)
    pooling = layers.MaxPooling2D if config.pooling == "max" else layers.AveragePooling2D
    x = pooling(2, name=f"{name}_pool")(x)
    if config.dropout:
        x = dropout(config.dropout, seed, f"{name}_dropout")(x)
    return x


@dataclasses.dataclass(frozen=True)
class Backbone:
    """A keras.applications network: how to build it, its own input preprocessing, its smallest input."""

    build: Callable[..., keras.Model]
    preprocess: Callable[[keras.KerasTensor], keras.KerasTensor]
    smallest: int  # pixels, each side
    weights_file: str  # how Keras names its ImageNet file without the top (searched for in WEIGHTS_DIR)


BACKBONES = {
    "mobilenet_v2": Backbone(
        keras.applications.MobileNetV2,
        keras.applications.mobilenet_v2.preprocess_input,
        32,
        "mobilenet_v2*1.0_224_no_top*.h5",
    ),
    "efficientnet_b0": Backbone(
        keras.applications.EfficientNetB0,
        keras.applications.efficientnet.preprocess_input,
        32,
        "efficientnetb0_notop*.h5",
    ),
    "resnet50": Backbone(
        keras.applications.ResNet50, keras.applications.resnet50.preprocess_input, 32, "resnet50*notop*.h5"
    ),
    "xception": Backbone(
        keras.applications.Xception, keras.applications.xception.preprocess_input, 71, "xception*notop*.h5"
    ),
}
WEIGHTS_DIR = "MULTIMODAL_GENRE_WEIGHTS"


@keras.saving.register_keras_serializable(package="multimodal_genre")
class BackbonePreprocessing(layers.Layer):
    """[0, 1] pixels (one channel or three) -> what the backbone saw in training: 0-255 RGB through
    its own ``preprocess_input``. A grayscale spectrogram is replicated to three channels."""

    def __init__(self, backbone: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.backbone = backbone

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        x = x * 255.0
        if x.shape[-1] == 1:
            x = ops.repeat(x, 3, axis=-1)
        return BACKBONES[self.backbone].preprocess(x)

    def get_config(self) -> dict:
        return {**super().get_config(), "backbone": self.backbone}


def backbone_network(config: BackboneConfig, input_shape: tuple[int, int, int]) -> keras.Model:
    """The backbone without its top, with its weights, frozen or trainable from a given layer."""
    backbone = BACKBONES[config.name]
    height, width, _ = input_shape
    if min(height, width) < backbone.smallest:
        raise ConfigError(
            f"backbone {config.name} needs images of at least {backbone.smallest}x{backbone.smallest} pixels, "
            f"got {height}x{width} (data.image.height / width)"
        )
    weights = _weights_file(config)
    try:
        network = backbone.build(
            include_top=False, weights=weights, input_shape=(height, width, 3), name="image_backbone"
        )
    except (ValueError, OSError) as error:
        raise ConfigError(f"{weights}: not {config.name} weights without the top ({error})") from None
    except Exception as error:  # noqa: BLE001 - offline, Keras' download raises a bare Exception
        if weights != "imagenet":
            raise
        raise ConfigError(
            f"backbone {config.name}: cannot download its ImageNet weights ({str(error).splitlines()[0]}); "
            f"put the file in ${WEIGHTS_DIR} or give its path as backbone.weights"
        ) from None
    network.trainable = config.fine_tune_from is not None
    if config.fine_tune_from not in (None, "all"):
        names = [layer.name for layer in network.layers]
        if config.fine_tune_from not in names:
            raise ConfigError(
                f"backbone.fine_tune_from: {config.name} has no layer '{config.fine_tune_from}' "
                f"(its last layers: {', '.join(names[-5:])})"
            )
        for layer in network.layers[: names.index(config.fine_tune_from)]:
            layer.trainable = False
    for layer in network.layers:
        if isinstance(layer, layers.BatchNormalization):
            # A frozen batch norm runs in inference mode: a few hundred spectrograms would otherwise
            # overwrite its ImageNet statistics (Keras' fine-tuning advice).
            layer.trainable = False
    return network


def _weights_file(config: BackboneConfig) -> str | None:
    """A local path for ``weights``: imagenet becomes a matching file in $MULTIMODAL_GENRE_WEIGHTS
    if there is one (else Keras downloads it); a named file must exist."""
    if config.weights is None:
        return None
    if config.weights == "imagenet":
        folder = os.environ.get(WEIGHTS_DIR)
        found = sorted(Path(folder).glob(BACKBONES[config.name].weights_file)) if folder else []
        return str(found[0]) if found else "imagenet"
    path = Path(config.weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"backbone.weights: no such weights file {path}")
    return str(path)


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
            keep = keep * ops.reshape(self._band_kept(batch, width, self.time_width), (-1, 1, width, 1))
        for _ in range(self.frequency_masks):
            keep = keep * ops.reshape(self._band_kept(batch, height, self.frequency_width), (-1, height, 1, 1))
        return x * keep

    def _band_kept(self, batch: int, size: int, fraction: float) -> keras.KerasTensor:
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


def masking_layer(config: MaskingConfig, seed: int) -> SpectrogramMasking:
    """The image branch's masking, seeded like every random layer."""
    name = "image_masking"
    return SpectrogramMasking(
        config.time_masks,
        config.time_width,
        config.frequency_masks,
        config.frequency_width,
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


def cropping_network(
    core: keras.Model, image_shape: tuple[int, int, int], crop: TimeCropConfig, seed: int, name: str
) -> keras.Model:
    """``core`` (built for windows) fed random windows of whole images in training."""
    inputs = {key: keras.Input(tensor.shape[1:], name=key) for key, tensor in core.input.items()}
    inputs[IMAGE_INPUT] = keras.Input(image_shape, name=IMAGE_INPUT)
    window = RandomTimeCrop(
        core.input[IMAGE_INPUT].shape[2], crop.test_crops, layer_seed(seed, "image_time_crop"), name="image_time_crop"
    )
    return keras.Model(inputs, core({**inputs, IMAGE_INPUT: window(inputs[IMAGE_INPUT])}), name=name)


def cropping_parts(model: keras.Model) -> tuple[RandomTimeCrop, keras.Model] | None:
    """The window layer and the network behind it of a model ``cropping_network`` built; None for
    any other model."""
    crop = next((layer for layer in model.layers if isinstance(layer, RandomTimeCrop)), None)
    if crop is None:
        return None
    return crop, next(layer for layer in model.layers if isinstance(layer, keras.Model))


def _crop_averaged(model: keras.Model, crop: RandomTimeCrop, core: keras.Model) -> keras.Model:
    """``core`` predicting from evenly spaced windows of whole images, averaged."""
    core = inference_model(core)
    inputs = {key: keras.Input(tensor.shape[1:], name=key) for key, tensor in model.input.items()}
    windows = {key: RepeatRows(crop.test_crops, name=f"{key}_per_crop")(tensor) for key, tensor in inputs.items()}
    windows[IMAGE_INPUT] = TimeCrops(crop.width, crop.test_crops, name="image_crops")(inputs[IMAGE_INPUT])
    return keras.Model(inputs, MeanOverCrops(crop.test_crops, name=GENRE_OUTPUT)(core(windows)), name=model.name)


def image_branch(image: keras.KerasTensor, config: ImageBranchConfig, seed: int) -> keras.KerasTensor:
    """Spectrogram -> vector. Time runs along the width, so augmentation rolls the image sideways."""
    x = image
    if config.time_shift:
        x = layers.RandomTranslation(
            0.0,
            config.time_shift,
            fill_mode="wrap",
            interpolation="nearest",
            seed=layer_seed(seed, "image_time_shift"),
            name="image_time_shift",
        )(x)
    if config.masking is not None:
        x = masking_layer(config.masking, seed)(x)
    if config.backbone is None:
        for index, filters in enumerate(config.filters, start=1):
            x = conv_block(x, filters, config, seed, name=f"image_block{index}")
    else:
        x = BackbonePreprocessing(config.backbone.name, name="image_backbone_preprocessing")(x)
        x = backbone_network(config.backbone, image.shape[1:])(x)
    x = _global_pooling(x, config)
    if config.backbone is not None and config.dropout:
        x = dropout(config.dropout, seed, "image_dropout")(x)
    return x


def _global_pooling(x: keras.KerasTensor, config: ImageBranchConfig) -> keras.KerasTensor:
    if config.global_pooling == "time_average":
        # Rows are frequencies: average along time only, so where the energy sits is kept.
        x = layers.AveragePooling2D(pool_size=(1, x.shape[2]), name="image_time_pool")(x)
        return layers.Flatten(name="image_flatten")(x)
    if config.global_pooling == "average":
        return layers.GlobalAveragePooling2D(name="image_pool")(x)
    if config.global_pooling == "max":
        return layers.GlobalMaxPooling2D(name="image_pool")(x)
    return layers.Flatten(name="image_flatten")(x)


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


VARIANCE_COLUMNS = [index for index, name in enumerate(FEATURE_COLUMNS) if name.endswith("_var")]


def tabular_branch(
    features: keras.KerasTensor, config: TabularBranchConfig, training_rows: np.ndarray, seed: int
) -> keras.KerasTensor:
    """Feature row -> vector. The log transform and standardisation are the first layers, adapted
    to ``training_rows`` only (never validation or test rows), so a saved model takes raw CSV values."""
    x, rows = features, np.asarray(training_rows, dtype=np.float32)
    if config.log_variances:
        logs = LogVariances(VARIANCE_COLUMNS, name="features_log_variances")
        x, rows = logs(x), np.asarray(logs(rows))
    standardise = layers.Normalization(name="features_standardised")
    standardise.adapt(rows)
    x = standardise(x)
    for index, width in enumerate(config.widths, start=1):
        x = dense(width, "relu", seed, f"tabular_dense{index}")(x)
        x = dropout(config.dropout, seed, f"tabular_dropout{index}")(x)
    return x


def classification_head(branches: list[keras.KerasTensor], config: HeadConfig, seed: int) -> keras.KerasTensor:
    """Branch vectors -> genre probabilities. Several branches are concatenated (the fusion); with
    ``branch_dropout`` each branch's whole vector is silenced for some training examples."""
    if len(branches) > 1:
        if config.branch_dropout:
            branches = [
                dropout(config.branch_dropout, seed, f"branch_dropout{index}", noise_shape=(None, 1))(branch)
                for index, branch in enumerate(branches, start=1)
            ]
        x = layers.Concatenate(name="fusion")(branches)
    else:
        (x,) = branches
    for index, width in enumerate(config.widths, start=1):
        x = dense(width, "relu", seed, f"head_dense{index}")(x)
        x = dropout(config.dropout, seed, f"head_dropout{index}")(x)
    return dense(len(GENRES), "softmax", seed, GENRE_OUTPUT)(x)


def build_network(
    name: str, config: NetworkConfig, image_shape: tuple[int, int, int], training_features: np.ndarray, *, seed: int
) -> keras.Model:
    """The fused model or a single-branch baseline, depending on which branches ``config`` has.
    ``training_features`` are the raw feature rows of the training split, for standardisation;
    ``seed`` fixes every random layer.

    With ``head.auxiliary_weight`` and two branches, the model has a dict of outputs for
    training: ``genre`` plus ``image_genre`` and ``features_genre`` (see ``inference_model``).
    """
    crop = config.image.time_crop if config.image is not None else None
    if crop is not None:
        window_shape = (image_shape[0], max(1, round(crop.width * image_shape[1])), image_shape[2])
        core = _network(f"{name}_windows", config, window_shape, training_features, seed)
        return cropping_network(core, image_shape, crop, seed, name)
    return _network(name, config, image_shape, training_features, seed)


def _network(
    name: str, config: NetworkConfig, image_shape: tuple[int, int, int], training_features: np.ndarray, seed: int
) -> keras.Model:
    inputs, branches = {}, {}
    if config.image is not None:
        inputs[IMAGE_INPUT] = keras.Input(image_shape, name=IMAGE_INPUT)
        branches[IMAGE_INPUT] = image_branch(inputs[IMAGE_INPUT], config.image, seed)
    if config.tabular is not None:
        inputs[FEATURES_INPUT] = keras.Input((training_features.shape[1],), name=FEATURES_INPUT)
        branches[FEATURES_INPUT] = tabular_branch(inputs[FEATURES_INPUT], config.tabular, training_features, seed)
    genre = classification_head(list(branches.values()), config.head, seed)
    if not has_auxiliary_heads(config):
        return keras.Model(inputs, genre, name=name)
    auxiliary = {
        f"{view}_genre": dense(len(GENRES), "softmax", seed, f"{view}_genre")(vector)
        for view, vector in branches.items()
    }
    return keras.Model(inputs, {GENRE_OUTPUT: genre, **auxiliary}, name=name)


def has_auxiliary_heads(config: NetworkConfig) -> bool:
    """Whether ``build_network`` gives the model per-branch training heads (two branches and a weight)."""
    return bool(config.head.auxiliary_weight) and config.image is not None and config.tabular is not None


def inference_model(model: keras.Model) -> keras.Model:
    """The model with its fused output alone (auxiliary heads exist for training only), predicting
    from time windows averaged where it trained on windows."""
    parts = cropping_parts(model)
    if parts is not None:
        return _crop_averaged(model, *parts)
    if not isinstance(model.output, dict):
        return model
    return keras.Model(model.input, model.output[GENRE_OUTPUT], name=model.name)


def averaged_network(members: Sequence[keras.Model], name: str) -> keras.Model:
    """One model whose output is the mean of ``members``' genre probabilities: the same named inputs
    as each member, every member a named sub-model (``<name>_member<k>``), predicting in one call."""
    inputs = {key: keras.Input(tensor.shape[1:], name=key) for key, tensor in members[0].input.items()}
    outputs = [
        keras.Model(member.input, member.output, name=f"{name}_member{index}")(inputs)
        for index, member in enumerate(members, start=1)
    ]
    return keras.Model(inputs, layers.Average(name=GENRE_OUTPUT)(outputs), name=name)


def model_inputs(model: keras.Model, images: np.ndarray, features: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays ``model`` takes, by input name; a baseline gets only the view it was built on."""
    arrays = {IMAGE_INPUT: images, FEATURES_INPUT: features}
    return {name: np.asarray(arrays[name], dtype=np.float32) for name in model.input}
