import dataclasses

import keras
import numpy as np
import pytest

from multimodal_genre.models import build_network, model_inputs, predict_proba

SHAPE = (32, 49, 1)
MEAN, VARIANCE = np.arange(57, dtype=float), np.full(57, 4.0)


def build(config, name):
    return build_network(name, getattr(config.models, name), SHAPE, MEAN, VARIANCE)


def layer_names(model):
    return {layer.name for layer in model.layers}


def test_each_network_takes_the_named_inputs_of_its_branches(config):
    shapes = {
        name: {key: tuple(tensor.shape) for key, tensor in build(config, name).input.items()}
        for name in ("fused", "cnn", "mlp")
    }
    assert shapes["fused"] == {"image": (None, *SHAPE), "features": (None, 57)}
    assert shapes["cnn"] == {"image": (None, *SHAPE)}
    assert shapes["mlp"] == {"features": (None, 57)}
    for name in ("fused", "cnn", "mlp"):
        assert tuple(build(config, name).output.shape) == (None, 10)


def test_baselines_are_the_fused_models_branches(config):
    fused, cnn, mlp = (layer_names(build(config, name)) for name in ("fused", "cnn", "mlp"))
    image_layers = {name for name in fused if name.startswith("image")}
    tabular_layers = {name for name in fused if name.startswith(("tabular", "features"))}
    assert image_layers and tabular_layers
    assert image_layers <= cnn and not (tabular_layers & cnn)
    assert tabular_layers <= mlp and not (image_layers & mlp)
    assert {"fusion", "branch_dropout1", "branch_dropout2"} <= fused
    assert "fusion" not in cnn | mlp


def test_image_branch_follows_its_config(config):
    model = build(config, "cnn")
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convs] == list(config.models.cnn.image.filters)
    assert all(layer.kernel_size == (3, 3) for layer in convs)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == len(convs) and all(layer.momentum == 0.9 for layer in norms)

    image = dataclasses.replace(config.models.cnn.image, kernel_size=5, convs_per_block=2, batch_norm=False)
    variant = build_network("cnn", dataclasses.replace(config.models.cnn, image=image), SHAPE, MEAN, VARIANCE)
    convs = [layer for layer in variant.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 2 * len(image.filters) and all(layer.kernel_size == (5, 5) for layer in convs)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in variant.layers)


@pytest.mark.parametrize("pooling", ["time_average", "average", "max", "flatten"])
def test_every_global_pooling_builds_and_predicts(config, pooling):
    image = dataclasses.replace(config.models.cnn.image, global_pooling=pooling)
    model = build_network("cnn", dataclasses.replace(config.models.cnn, image=image), SHAPE, MEAN, VARIANCE)
    probabilities = predict_proba(model, np.random.default_rng(0).random((3, *SHAPE)), np.zeros((3, 57)))
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_time_average_keeps_the_frequency_rows(config):
    image = dataclasses.replace(config.models.cnn.image, global_pooling="time_average")
    model = build_network("cnn", dataclasses.replace(config.models.cnn, image=image), SHAPE, MEAN, VARIANCE)
    rows_left = SHAPE[0] // 2 ** len(image.filters)
    assert model.get_layer("image_flatten").output.shape[-1] == rows_left * image.filters[-1]


def test_tabular_branch_standardises_with_the_given_statistics(config):
    model = build(config, "mlp")
    scaling = model.get_layer("features_standardised")
    row = np.array([[MEAN[i] + 2.0 for i in range(57)]], dtype=np.float32)
    scaled = keras.Model(model.input, scaling.output).predict({"features": row}, verbose=0)
    np.testing.assert_allclose(scaled, 1.0, rtol=1e-5)


def test_model_inputs_give_each_model_only_its_views(config):
    images, features = np.zeros((2, *SHAPE)), np.zeros((2, 57))
    assert set(model_inputs(build(config, "cnn"), images, features)) == {"image"}
    assert set(model_inputs(build(config, "mlp"), images, features)) == {"features"}
    assert set(model_inputs(build(config, "fused"), images, features)) == {"image", "features"}
    assert model_inputs(build(config, "mlp"), images, features)["features"].dtype == np.float32
