"""Pretrained image backbones in place of the 3x3 CNN: built from config, with their own
preprocessing and the right weights, frozen or fine-tuned from a layer, in the same fused model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from multimodal_genre.data import Split
from multimodal_genre.errors import ConfigError
from multimodal_genre.families import family
from multimodal_genre.families.networks.backbones import BACKBONES, BackbonePreprocessing, backbone_network
from multimodal_genre.families.networks.build import build_network, inference_model
from multimodal_genre.families.networks.fitting import train_network
from multimodal_genre.families.networks.settings import BackboneConfig

from conftest import required_by_ci

TRAINING_ROWS = np.random.default_rng(0).lognormal(3.0, 1.0, size=(40, 57))


def with_backbone(config, backbone: BackboneConfig, model: str = "fused"):
    network = config.models[model]
    return dataclasses.replace(network, image=dataclasses.replace(network.image, backbone=backbone))


@pytest.fixture(scope="module")
def mobilenet_weights() -> Path:
    folder = Path(required_by_ci("MULTIMODAL_GENRE_WEIGHTS", "the folder holding ImageNet MobileNetV2 weights"))
    (path,) = folder.glob(BACKBONES["mobilenet_v2"].weights_file)
    return path


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_backbone_builds_into_the_fused_model(name, two_view_config):
    shape = (72, 108, 1)
    model = build_network(
        "fused", with_backbone(two_view_config, BackboneConfig(name, None, None)), shape, TRAINING_ROWS, seed=0
    )
    assert set(model.input) == {"image", "features"}
    probabilities = inference_model(model).predict(
        {"image": np.random.default_rng(1).random((2, *shape)), "features": TRAINING_ROWS[:2]}, verbose=0
    )
    assert probabilities.shape == (2, 10) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # Frozen: not one of the backbone's weights trains.
    backbone = model.get_layer("image_backbone")
    assert backbone.count_params() > 1e6 and not backbone.trainable_weights


def test_preprocessing_replicates_gray_and_applies_the_backbones_own_scaling():
    gray = np.array([[[[0.0], [0.5], [1.0]]]], dtype=np.float32)
    out = np.asarray(BackbonePreprocessing("mobilenet_v2")(gray))
    assert out.shape == (1, 1, 3, 3)
    assert np.allclose(out[0, 0, :, 0], [-1.0, 0.0, 1.0], atol=1e-6) and np.allclose(out[..., 0], out[..., 2])
    caffe = np.asarray(BackbonePreprocessing("resnet50")(np.ones((1, 1, 1, 3), dtype=np.float32)))
    assert np.allclose(caffe[0, 0, 0], [255 - 103.939, 255 - 116.779, 255 - 123.68], atol=1e-3)  # BGR, mean-centred


def test_imagenet_weights_come_from_the_weights_folder(mobilenet_weights, monkeypatch):
    monkeypatch.setenv("MULTIMODAL_GENRE_WEIGHTS", str(mobilenet_weights.parent))
    network = backbone_network(BackboneConfig("mobilenet_v2", "imagenet", None), (64, 99, 3))
    with h5py.File(mobilenet_weights) as stored:
        kernel = np.asarray(stored["Conv1"]["Conv1"]["kernel"])
    assert np.array_equal(network.get_layer("Conv1").kernel.numpy(), kernel)
    random = backbone_network(BackboneConfig("mobilenet_v2", None, None), (64, 99, 3))
    assert not np.allclose(random.get_layer("Conv1").kernel.numpy(), kernel)


def test_a_weights_file_path_is_loaded(mobilenet_weights):
    by_path = backbone_network(BackboneConfig("mobilenet_v2", str(mobilenet_weights), None), (64, 99, 3))
    with h5py.File(mobilenet_weights) as stored:
        assert np.array_equal(by_path.get_layer("Conv1").kernel.numpy(), stored["Conv1"]["Conv1"]["kernel"])


@pytest.mark.parametrize(
    ("backbone", "shape", "message"),
    [
        (BackboneConfig("mobilenet_v2", "/no/such/weights.h5", None), (64, 99, 3), "no such weights file"),
        (BackboneConfig("xception", None, None), (64, 99, 3), "at least 71x71"),
        (BackboneConfig("mobilenet_v2", None, "block_99_nothing"), (64, 99, 3), "has no layer 'block_99_nothing'"),
    ],
)
def test_bad_backbone_settings_are_clear_errors(backbone, shape, message):
    with pytest.raises(ConfigError, match=message):
        backbone_network(backbone, shape)


def test_weights_of_another_network_are_refused_not_ignored(mobilenet_weights):
    with pytest.raises(ConfigError, match=rf"{mobilenet_weights}: not resnet50 weights"):
        backbone_network(BackboneConfig("resnet50", str(mobilenet_weights), None), (64, 99, 3))


def test_fine_tuning_trains_the_layers_from_the_named_one(fast_dataset, fast_config, mobilenet_weights):
    split = Split(train=np.arange(0, 120), validation=np.arange(120, 140), test=np.arange(140, 159))
    network = with_backbone(fast_config, BackboneConfig("mobilenet_v2", str(mobilenet_weights), "block_16_expand"))
    network = dataclasses.replace(network, training=dataclasses.replace(network.training, epochs=2))
    before = backbone_network(network.image.backbone, fast_dataset.images.shape[1:3] + (3,))
    trained = train_network(
        family("fused"), network, fast_dataset.labelled(split.train), fast_dataset.labelled(split.validation), seed=0
    )
    after = trained.model.get_layer("image_backbone")
    changed = {
        layer.name
        for layer in after.layers
        if layer.weights
        and not all(
            np.array_equal(old.numpy(), new.numpy())
            for old, new in zip(before.get_layer(layer.name).weights, layer.weights, strict=True)
        )
    }
    names = [layer.name for layer in after.layers]
    tuned = set(names[names.index("block_16_expand") :])
    assert changed and changed <= tuned
    # Batch norm keeps its ImageNet statistics even among the trained layers.
    assert np.array_equal(
        before.get_layer("block_16_expand_BN").moving_mean.numpy(),
        after.get_layer("block_16_expand_BN").moving_mean.numpy(),
    )


def test_a_saved_backbone_model_reloads_and_predicts_the_same(config, tmp_path):
    shape = (40, 60, 1)
    model = build_network(
        "cnn", with_backbone(config, BackboneConfig("mobilenet_v2", None, None), "cnn"), shape, TRAINING_ROWS, seed=0
    )
    images = np.random.default_rng(2).random((3, *shape)).astype(np.float32)
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras")
    assert np.allclose(
        model.predict({"image": images}, verbose=0), again.predict({"image": images}, verbose=0), atol=1e-6
    )


def test_imagenet_weights_that_cannot_be_downloaded_are_a_clear_error(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: Name or service not known")

    monkeypatch.delenv("MULTIMODAL_GENRE_WEIGHTS", raising=False)
    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(
        ConfigError, match=r"backbone resnet50: cannot download its ImageNet weights .*MULTIMODAL_GENRE"
    ):
        backbone_network(BackboneConfig("resnet50", "imagenet", None), (64, 99, 3))
