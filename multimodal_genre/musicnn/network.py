"""musicnn and its VGG baseline (Pons and Serra, 2019) written in Keras 3 layers, with the weights of
the authors' TensorFlow 1 checkpoints read in by variable name.

The networks take patches of 187 frames (3 s) of 96 log-compressed mel bands (``inputs.py``) and give
50 tag probabilities and the activations a classifier builds on: for musicnn the mean and the max over
time of its 753 front- and mid-end features, and its 200-unit penultimate layer; for the VGG, its
flattened last pooling (256). Each Keras layer is named after what it is; ``_CHECKPOINT_SCOPES`` says
which variable scope of the checkpoint (``conv2d_3``, ``batch_normalization_4``, ...) holds its
weights, in the order ``tf.compat.v1.layers`` created them in the authors' ``models.py``.
"""

from __future__ import annotations

import keras
from keras import layers

from multimodal_genre.musicnn.inputs import MEL_BANDS, PATCH_FRAMES
from multimodal_genre.musicnn.weights import checkpoint_prefix

TAGS = 50

# musicnn's front end: timbral filters (frames x share of the mel bands) and temporal filters (frames).
_TIMBRAL = ((74, 0.4), (77, 0.7))
_TEMPORAL = (128, 64, 32)
_MIDEND = 3
_CHECKPOINT_SCOPES = {
    "musicnn": {
        "input_bn": "batch_normalization",
        "timbral74_conv": "conv2d",
        "timbral74_bn": "batch_normalization_1",
        "timbral77_conv": "conv2d_1",
        "timbral77_bn": "batch_normalization_2",
        "temporal128_conv": "conv2d_2",
        "temporal128_bn": "batch_normalization_3",
        "temporal64_conv": "conv2d_3",
        "temporal64_bn": "batch_normalization_4",
        "temporal32_conv": "conv2d_4",
        "temporal32_bn": "batch_normalization_5",
        "midend1_conv": "conv2d_5",
        "midend1_bn": "batch_normalization_6",
        "midend2_conv": "conv2d_6",
        "midend2_bn": "batch_normalization_7",
        "midend3_conv": "conv2d_7",
        "midend3_bn": "batch_normalization_8",
        "pool_bn": "batch_normalization_9",
        "penultimate_dense": "dense",
        "penultimate_bn": "batch_normalization_10",
        "tags_dense": "dense_1",
    },
    "vgg": {
        "input_bn": "batch_normalization",
        **{f"block{index}_conv": f"{index}CNN" for index in range(1, 6)},
        **{f"block{index}_bn": f"batch_normalization_{index}" for index in range(1, 6)},
        "tags_dense": "dense",
    },
}
_EPSILON = 0.001  # tf.compat.v1.layers.batch_normalization's, and Keras'


def _batch_norm(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=_EPSILON, name=name)


def _over_frequency(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
    """(batch, frames, bands, filters) -> (batch, frames, filters): the max over the bands."""
    return layers.Reshape((PATCH_FRAMES, x.shape[-1]), name=f"{name}_squeeze")(
        layers.MaxPooling2D((1, x.shape[2]), name=f"{name}_pool")(x)
    )


def _front_end(spectrogram: keras.KerasTensor) -> keras.KerasTensor:
    """Timbral (wide in frequency) and temporal (long in time) filters, each max-pooled over the
    bands: (batch, frames, 561)."""
    x = _batch_norm("input_bn")(layers.Reshape((PATCH_FRAMES, MEL_BANDS, 1), name="input_channel")(spectrogram))
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)), name="timbral_pad")(x)
    parts = []
    for frames, share in _TIMBRAL:
        name = f"timbral{frames}"
        conv = layers.Conv2D(204, (7, int(share * MEL_BANDS)), activation="relu", name=f"{name}_conv")(padded)
        parts.append(_over_frequency(_batch_norm(f"{name}_bn")(conv), name))
    for frames in _TEMPORAL:
        name = f"temporal{frames}"
        conv = layers.Conv2D(51, (frames, 1), padding="same", activation="relu", name=f"{name}_conv")(x)
        parts.append(_over_frequency(_batch_norm(f"{name}_bn")(conv), name))
    return layers.Concatenate(name="front_end")(parts)


def _mid_end(front: keras.KerasTensor) -> keras.KerasTensor:
    """Three 7-frame convolutions across all features, the last two residual; the front end and each
    layer's output side by side: (batch, frames, 753)."""
    outputs, x = [front], front
    for index in range(1, _MIDEND + 1):
        name = f"midend{index}"
        padded = layers.ZeroPadding1D(3, name=f"{name}_pad")(x)
        conv = layers.Conv1D(64, 7, activation="relu", name=f"{name}_conv")(padded)
        y = _batch_norm(f"{name}_bn")(conv)
        x = y if index == 1 else layers.Add(name=f"{name}_residual")([y, x])
        outputs.append(x)
    return layers.Concatenate(name="mid_end")(outputs)


def musicnn(name: str = "musicnn") -> keras.Model:
    """The musicnn tagger: patches (batch, 187, 96) -> tags and the pooled features of ``FEATURES``."""
    spectrogram = keras.Input((PATCH_FRAMES, MEL_BANDS), name="patch")
    features = _mid_end(_front_end(spectrogram))
    max_pool = layers.GlobalMaxPooling1D(name="max_pool")(features)
    mean_pool = layers.GlobalAveragePooling1D(name="mean_pool")(features)
    # The checkpoint's dense layer reads max and mean interleaved, feature by feature.
    width = features.shape[-1]
    columns = [layers.Reshape((width, 1), name=f"{pool.name}_column")(pool) for pool in (max_pool, mean_pool)]
    pooled = layers.Reshape((2 * width,), name="pooled")(layers.Concatenate(name="max_mean")(columns))
    x = _batch_norm("pool_bn")(pooled)
    x = layers.Dropout(0.5, name="pool_dropout")(x)
    penultimate = _batch_norm("penultimate_bn")(layers.Dense(200, activation="relu", name="penultimate_dense")(x))
    x = layers.Dropout(0.5, name="penultimate_dropout")(penultimate)
    tags = layers.Dense(TAGS, activation="sigmoid", name="tags_dense")(x)
    outputs = {"tags": tags, "mean_pool": mean_pool, "max_pool": max_pool, "penultimate": penultimate}
    return keras.Model(spectrogram, outputs, name=name)


# The VGG's five poolings, (size, strides) in (frames, bands). The wheel's models.py gives the MTT
# checkpoint's; the MSD checkpoint's own graph pools time and frequency apart in its first two.
Pools = tuple[tuple[tuple[int, int], tuple[int, int]], ...]
VGG_POOLS: dict[str, Pools] = {
    "mtt": (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))),
    "msd": (((4, 1), (4, 1)), ((1, 4), (1, 4)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))),
}


def vgg(pools: Pools = VGG_POOLS["mtt"], name: str = "vgg") -> keras.Model:
    """The VGG-like baseline: five blocks of 128 3x3 filters, each batch-normalised and pooled as
    ``pools`` says; tags and its flattened last pooling."""
    spectrogram = keras.Input((PATCH_FRAMES, MEL_BANDS), name="patch")
    x = _batch_norm("input_bn")(layers.Reshape((PATCH_FRAMES, MEL_BANDS, 1), name="input_channel")(spectrogram))
    for index, (size, strides) in enumerate(pools, start=1):
        if index > 1:
            x = layers.Dropout(0.25, name=f"block{index - 1}_dropout")(x)
        x = layers.Conv2D(128, 3, padding="same", activation="relu", name=f"block{index}_conv")(x)
        x = layers.MaxPooling2D(size, strides, name=f"block{index}_pool")(_batch_norm(f"block{index}_bn")(x))
    pool5 = layers.Flatten(name="pool5")(x)
    tags = layers.Dense(TAGS, activation="sigmoid", name="tags_dense")(layers.Dropout(0.5, name="pool5_dropout")(pool5))
    return keras.Model(spectrogram, {"tags": tags, "pool5": pool5}, name=name)


def pretrained(network: str, weights: str) -> keras.Model:
    """``network`` (musicnn or vgg) with the weights of a checkpoint: msd, mtt (``weights.py`` finds
    and checks them) or the prefix of one of the user's own, of the wheel's ``models.py`` layout."""
    model = musicnn() if network == "musicnn" else vgg(VGG_POOLS["msd" if weights == "msd" else "mtt"])
    load_checkpoint_weights(model, network, checkpoint_prefix(network, weights))
    return model


def load_checkpoint_weights(model: keras.Model, architecture: str, prefix: str) -> None:
    """Set every weighted layer of ``model`` from the variables of the TensorFlow 1 checkpoint at
    ``prefix`` (``.../MSD_musicnn/model``), by the scope each layer's weights were saved under."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    for layer_name, scope in _CHECKPOINT_SCOPES[architecture].items():
        layer = model.get_layer(layer_name)
        if isinstance(layer, layers.BatchNormalization):
            names = ("gamma", "beta", "moving_mean", "moving_variance")
        else:
            names = ("kernel", "bias")
        values = [reader.get_tensor(f"{scope}/{name}") for name in names]
        if isinstance(layer, layers.Conv1D):  # the checkpoint's 2-D kernel (7, features, 1, 64)
            values[0] = values[0][:, :, 0, :]
        layer.set_weights(values)
