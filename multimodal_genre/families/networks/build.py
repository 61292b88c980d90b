"""The Keras networks, built from their settings.

Four builders, an image branch, a tabular branch, a pre-trained music branch and a classification
head, compose every network: the fused model is its branches into the head, the CNN-only, MLP-only
and musicnn baselines are one branch into the same head. A branch is written once, here. Inputs are
named ``image``, ``features`` and after the pre-trained view they read (``Embedding.key``), so a
saved model says what it expects.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
from keras import layers

from multimodal_genre.data import GENRES, VARIANCE_COLUMNS, Tracks
from multimodal_genre.errors import RunError
from multimodal_genre.families.networks.backbones import BackbonePreprocessing, backbone_network, music_network
from multimodal_genre.families.networks.layers import (
    LogVariances,
    MeanOverCrops,
    RandomTimeCrop,
    RepeatRows,
    TimeCrops,
    dense,
    dropout,
    layer_seed,
    masking_layer,
    seeded_initializer,
)
from multimodal_genre.families.networks.settings import (
    HeadConfig,
    ImageBranchConfig,
    NetworkConfig,
    PretrainedBranchConfig,
    TabularBranchConfig,
    TimeCropConfig,
)
from multimodal_genre.scaling import block_scales

IMAGE_INPUT = "image"
FEATURES_INPUT = "features"
PRETRAINED = "pretrained"  # the music branch's name in its layers and auxiliary head; its input is its view's
GENRE_OUTPUT = "genre"


def conv_block(
    x: keras.KerasTensor, filters: int, settings: ImageBranchConfig, seed: int, name: str
) -> keras.KerasTensor:
    """Convolutions (with batch norm and ReLU), then 2x2 pooling and dropout."""
    for index in range(1, settings.convs_per_block + 1):
        conv = f"{name}_conv{index}"
        x = layers.Conv2D(
            filters,
            settings.kernel_size,
            padding="same",
            use_bias=not settings.batch_norm,
            kernel_initializer=seeded_initializer(seed, conv),
            name=conv,
        )(x)
        if settings.batch_norm:
            x = layers.BatchNormalization(momentum=settings.batch_norm_momentum, name=f"{name}_bn{index}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{index}")(x)
    pooling = layers.MaxPooling2D if settings.pooling == "max" else layers.AveragePooling2D
    x = pooling(2, name=f"{name}_pool")(x)
    if settings.dropout:
        x = dropout(settings.dropout, seed, f"{name}_dropout")(x)
    return x


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


def image_branch(image: keras.KerasTensor, settings: ImageBranchConfig, seed: int) -> keras.KerasTensor:
    """Spectrogram -> vector. Time runs along the width, so augmentation rolls the image sideways."""
    x = image
    if settings.time_shift:
        x = layers.RandomTranslation(
            0.0,
            settings.time_shift,
            fill_mode="wrap",
            interpolation="nearest",
            seed=layer_seed(seed, "image_time_shift"),
            name="image_time_shift",
        )(x)
    if settings.masking is not None:
        x = masking_layer(settings.masking, seed)(x)
    if settings.backbone is None:
        for index, filters in enumerate(settings.filters, start=1):
            x = conv_block(x, filters, settings, seed, name=f"image_block{index}")
    else:
        x = BackbonePreprocessing(settings.backbone.name, name="image_backbone_preprocessing")(x)
        x = backbone_network(settings.backbone, image.shape[1:])(x)
    x = _global_pooling(x, settings)
    if settings.backbone is not None and settings.dropout:
        x = dropout(settings.dropout, seed, "image_dropout")(x)
    return x


def _global_pooling(x: keras.KerasTensor, settings: ImageBranchConfig) -> keras.KerasTensor:
    if settings.global_pooling == "time_average":
        # Rows are frequencies: average along time only, so where the energy sits stays.
        x = layers.AveragePooling2D(pool_size=(1, x.shape[2]), name="image_time_pool")(x)
        return layers.Flatten(name="image_flatten")(x)
    if settings.global_pooling == "average":
        return layers.GlobalAveragePooling2D(name="image_pool")(x)
    if settings.global_pooling == "max":
        return layers.GlobalMaxPooling2D(name="image_pool")(x)
    return layers.Flatten(name="image_flatten")(x)


def pretrained_branch(
    view: keras.KerasTensor, settings: PretrainedBranchConfig, training_rows: np.ndarray, seed: int
) -> keras.KerasTensor:
    """A music network's view of the clip -> vector. Frozen, the view is its activations pooled over
    the clip, standardised on ``training_rows`` only; fine-tuned, the view is the clip's patches and
    the network runs here, its activations pooled the same way."""
    if settings.backbone.fine_tune_from is None:
        x = _standardised(view, settings, np.asarray(training_rows, dtype=np.float64))
    else:
        per_patch = layers.TimeDistributed(music_network(settings), name="pretrained_network")(view)
        pooled = [layers.GlobalAveragePooling1D(name="pretrained_mean")(per_patch)]
        pooled.append(layers.GlobalMaxPooling1D(name="pretrained_max")(per_patch))
        x = layers.BatchNormalization(name="pretrained_bn")(layers.Concatenate(name="pretrained_pooled")(pooled))
    for index, width in enumerate(settings.widths, start=1):
        x = dense(width, "relu", seed, f"pretrained_dense{index}")(x)
        x = dropout(settings.dropout, seed, f"pretrained_dropout{index}")(x)
    return x


def _standardised(view: keras.KerasTensor, settings: PretrainedBranchConfig, rows: np.ndarray) -> keras.KerasTensor:
    """The frozen view standardised on the training ``rows``: column by column, or block by block as
    the SVM reads it (a column that never varies reads as 0), its varying columns at unit variance
    on average, as column by column, so the dense layer above starts at the same scale either way."""
    if settings.scaling == "columns":
        standardise = layers.Normalization(name="pretrained_standardised")
        standardise.adapt(rows.astype(np.float32))
        return standardise(view)
    blocks = settings.embedding.blocks
    scale = block_scales(rows, blocks)
    varying = np.isfinite(scale)
    scale = scale / np.sqrt(varying.sum() / len(blocks))
    variance = np.where(varying, scale**2, np.finfo(np.float32).max)  # a column that never varies: divided to 0
    return layers.Normalization(mean=rows.mean(axis=0), variance=variance, name="pretrained_standardised")(view)


def tabular_branch(
    features: keras.KerasTensor, settings: TabularBranchConfig, training_rows: np.ndarray, seed: int
) -> keras.KerasTensor:
    """Feature row -> vector. The log transform and standardisation are the first layers, adapted
    to ``training_rows`` only (never validation or test rows), so a saved model takes raw CSV values."""
    x, rows = features, np.asarray(training_rows, dtype=np.float32)
    if settings.log_variances:
        logs = LogVariances(list(VARIANCE_COLUMNS), name="features_log_variances")
        x, rows = logs(x), np.asarray(logs(rows))
    standardise = layers.Normalization(name="features_standardised")
    standardise.adapt(rows)
    x = standardise(x)
    for index, width in enumerate(settings.widths, start=1):
        x = dense(width, "relu", seed, f"tabular_dense{index}")(x)
        x = dropout(settings.dropout, seed, f"tabular_dropout{index}")(x)
    return x


def classification_head(branches: list[keras.KerasTensor], settings: HeadConfig, seed: int) -> keras.KerasTensor:
    """Branch vectors -> genre probabilities. Several branches are concatenated (the fusion); with
    ``branch_dropout`` each branch's whole vector is silenced for some training examples."""
    if len(branches) > 1:
        if settings.branch_dropout:
            branches = [
                dropout(settings.branch_dropout, seed, f"branch_dropout{index}", noise_shape=(None, 1))(branch)
                for index, branch in enumerate(branches, start=1)
            ]
        x = layers.Concatenate(name="fusion")(branches)
    else:
        (x,) = branches
    for index, width in enumerate(settings.widths, start=1):
        x = dense(width, "relu", seed, f"head_dense{index}")(x)
        x = dropout(settings.dropout, seed, f"head_dropout{index}")(x)
    return dense(len(GENRES), "softmax", seed, GENRE_OUTPUT)(x)


def build_network(
    name: str,
    settings: NetworkConfig,
    image_shape: tuple[int, int, int],
    training_features: np.ndarray,
    *,
    seed: int,
    training_views: Mapping[str, np.ndarray] | None = None,
) -> keras.Model:
    """The fused model or a single-branch baseline, depending on which branches ``settings`` has.
    ``training_features`` are the raw feature rows of the training split, and ``training_views`` its
    pre-trained views by name (``Tracks.embeddings``), for standardisation; ``seed`` fixes every
    random layer.

    With ``head.auxiliary_weight`` and two branches or more, the model has a dict of outputs for
    training: ``genre`` plus one per branch, such as ``image_genre`` (see ``inference_model``).
    """
    views = training_views or {}
    crop = settings.image.time_crop if settings.image is not None else None
    if crop is not None:
        window_shape = (image_shape[0], max(1, round(crop.width * image_shape[1])), image_shape[2])
        core = _network(f"{name}_windows", settings, window_shape, training_features, views, seed)
        return cropping_network(core, image_shape, crop, seed, name)
    return _network(name, settings, image_shape, training_features, views, seed)


def _network(
    name: str,
    settings: NetworkConfig,
    image_shape: tuple[int, int, int],
    training_features: np.ndarray,
    training_views: Mapping[str, np.ndarray],
    seed: int,
) -> keras.Model:
    inputs, branches = {}, {}
    if settings.image is not None:
        inputs[IMAGE_INPUT] = keras.Input(image_shape, name=IMAGE_INPUT)
        branches[IMAGE_INPUT] = image_branch(inputs[IMAGE_INPUT], settings.image, seed)
    if settings.tabular is not None:
        inputs[FEATURES_INPUT] = keras.Input((training_features.shape[1],), name=FEATURES_INPUT)
        branches[FEATURES_INPUT] = tabular_branch(inputs[FEATURES_INPUT], settings.tabular, training_features, seed)
    for embedding in settings.embeddings():
        rows = training_views[embedding.key]
        inputs[embedding.key] = keras.Input(rows.shape[1:], name=embedding.key)
        branches[PRETRAINED] = pretrained_branch(inputs[embedding.key], settings.pretrained, rows, seed)
    genre = classification_head(list(branches.values()), settings.head, seed)
    if not has_auxiliary_heads(settings):
        return keras.Model(inputs, genre, name=name)
    auxiliary = {
        f"{view}_genre": dense(len(GENRES), "softmax", seed, f"{view}_genre")(vector)
        for view, vector in branches.items()
    }
    return keras.Model(inputs, {GENRE_OUTPUT: genre, **auxiliary}, name=name)


def has_auxiliary_heads(settings: NetworkConfig) -> bool:
    """Whether ``build_network`` gives the model per-branch training heads (two branches or more, and a weight)."""
    branches = [settings.image, settings.tabular, settings.pretrained]
    return bool(settings.head.auxiliary_weight) and sum(branch is not None for branch in branches) > 1


def inference_model(model: keras.Model) -> keras.Model:
    """The model with its fused output alone (auxiliary heads exist for training only), predicting
    from time windows averaged where it trained on windows."""
    parts = cropping_parts(model)
    if parts is not None:
        return _crop_averaged(model, *parts)
    if not isinstance(model.output, dict):
        return model
    return keras.Model(model.input, model.output[GENRE_OUTPUT], name=model.name)


def model_inputs(model: keras.Model, tracks: Tracks) -> dict[str, np.ndarray]:
    """The arrays ``model`` takes, by input name: the picture, the feature row and the pre-trained
    views it was built on, no others."""
    arrays = {IMAGE_INPUT: tracks.images, FEATURES_INPUT: tracks.features, **tracks.embeddings}
    missing = [name for name in model.input if name not in arrays]
    if missing:
        raise RunError(f"{model.name}: the tracks lack its input {missing[0]} (a pre-trained network's view)")
    return {name: np.asarray(arrays[name], dtype=np.float32) for name in model.input}
