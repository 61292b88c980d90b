"""Pretrained networks: keras.applications networks in place of the convolution blocks, and a
music network (musicnn) fine-tuned inside the pre-trained branch: transfer learning."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import keras
from keras import layers, ops

from multimodal_genre.errors import ConfigError
from multimodal_genre.families.networks.settings import BackboneConfig, PretrainedBranchConfig
from multimodal_genre.musicnn.network import pretrained


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


def backbone_network(settings: BackboneConfig, input_shape: tuple[int, int, int]) -> keras.Model:
    """The backbone without its top, with its weights, frozen or trainable from a given layer."""
    backbone = BACKBONES[settings.name]
    height, width, _ = input_shape
    if min(height, width) < backbone.smallest:
        raise ConfigError(
            f"backbone {settings.name} needs images of at least {backbone.smallest}x{backbone.smallest} pixels, "
            f"got {height}x{width} (data.image.height / width)"
        )
    weights = _weights_file(settings)
    try:
        network = backbone.build(
            include_top=False, weights=weights, input_shape=(height, width, 3), name="image_backbone"
        )
    except (ValueError, OSError) as error:
        raise ConfigError(f"{weights}: not {settings.name} weights without the top ({error})") from None
    except Exception as error:  # noqa: BLE001 - offline, Keras' download raises a bare Exception
        if weights != "imagenet":
            raise
        raise ConfigError(
            f"backbone {settings.name}: cannot download its ImageNet weights ({str(error).splitlines()[0]}); "
            f"put the file in ${WEIGHTS_DIR} or give its path as backbone.weights"
        ) from None
    _trainable_from(network, settings.fine_tune_from, settings.name)
    return network


def music_network(settings: PretrainedBranchConfig) -> keras.Model:
    """The music network of ``settings`` with its checkpoint's weights, giving the branch's activations
    of one patch side by side, trainable from ``backbone.fine_tune_from`` on (batch norm frozen)."""
    backbone = settings.backbone
    network = pretrained(backbone.network, backbone.weights)
    outputs = [network.output[name] for name in settings.activations]
    tuned = keras.Model(
        network.input, outputs[0] if len(outputs) == 1 else layers.Concatenate()(outputs), name="music_network"
    )
    _trainable_from(tuned, backbone.fine_tune_from, backbone.name)
    return tuned


def _trainable_from(network: keras.Model, first: str | None, name: str) -> None:
    """Freeze ``network`` (``first`` None), or its layers before ``first`` ("all": none); batch norm
    always runs in inference mode, keeping its pre-trained statistics."""
    network.trainable = first is not None
    if first not in (None, "all"):
        names = [layer.name for layer in network.layers]
        if first not in names:
            raise ConfigError(
                f"backbone.fine_tune_from: {name} has no layer '{first}' (its last layers: {', '.join(names[-5:])})"
            )
        for layer in network.layers[: names.index(first)]:
            layer.trainable = False
    for layer in network.layers:
        if isinstance(layer, layers.BatchNormalization):
            # A few hundred spectrograms would otherwise overwrite the statistics it was trained with
            # (Keras' fine-tuning advice).
            layer.trainable = False


def _weights_file(settings: BackboneConfig) -> str | None:
    """A local path for ``weights``: imagenet becomes a matching file in $MULTIMODAL_GENRE_WEIGHTS
    if there is one (else Keras downloads it); a named file must exist."""
    if settings.weights is None:
        return None
    if settings.weights == "imagenet":
        folder = os.environ.get(WEIGHTS_DIR)
        found = sorted(Path(folder).glob(BACKBONES[settings.name].weights_file)) if folder else []
        return str(found[0]) if found else "imagenet"
    path = Path(settings.weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"backbone.weights: no such weights file {path}")
    return str(path)
