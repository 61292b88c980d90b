import dataclasses
import random

import keras
import numpy as np
import pytest

from multimodal_genre.config import load_config
from multimodal_genre.data import FEATURE_COLUMNS, Tracks
from multimodal_genre.families import family
from multimodal_genre.families.networks.build import build_network, inference_model, model_inputs
from multimodal_genre.families.networks.settings import MaskingConfig
from multimodal_genre.settings import replaced

SHAPE = (32, 49, 1)
TRAINING_ROWS = np.random.default_rng(0).lognormal(3.0, 1.0, size=(40, 57))


@pytest.fixture
def config(two_view_config):
    """These tests are about the 3x3 CNN and MLP branches and the head: the fused model without its
    pre-trained branch (tests/test_pretrained.py has that one)."""
    return two_view_config


def build(config, name, seed=0):
    return build_network(name, config.models[name], SHAPE, TRAINING_ROWS, seed=seed)


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
        assert tuple(inference_model(build(config, name)).output.shape) == (None, 10)


def test_the_default_fused_network_reads_the_pre_trained_view_beside_both_branches():
    network = replaced(load_config().models["fused"], "pretrained.source", "picture")  # as a run resolves it
    [embedding] = network.embeddings()
    views = {embedding.key: np.random.default_rng(0).normal(size=(40, embedding.width))}
    model = build_network("fused", network, SHAPE, TRAINING_ROWS, seed=0, training_views=views)
    assert {key: tuple(tensor.shape) for key, tensor in model.input.items()} == {
        "image": (None, *SHAPE),
        "features": (None, 57),
        "musicnn_msd_mean_pool": (None, 2 * 753),
    }
    assert set(model.output) == {"genre", "image_genre", "features_genre", "pretrained_genre"}


def test_a_seed_fixes_weights_and_dropout_whatever_else_drew_from_pythons_random(config):
    inputs = {"image": np.full((4, *SHAPE), 0.5, np.float32), "features": TRAINING_ROWS[:4].astype(np.float32)}
    random.seed(1)
    first = build(config, "fused", seed=3)
    random.seed(2)
    second = build(config, "fused", seed=3)
    other = build(config, "fused", seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), second.get_weights(), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first.get_weights(), other.get_weights(), strict=True))
    first_out, second_out = (np.asarray(model(inputs, training=True)["genre"]) for model in (first, second))
    assert np.array_equal(first_out, second_out)
    assert not np.allclose(first_out, np.asarray(first(inputs, training=False)["genre"]))


def test_baselines_are_the_fused_models_branches(config):
    fused, cnn, mlp = (layer_names(inference_model(build(config, name))) for name in ("fused", "cnn", "mlp"))
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
    assert [layer.filters for layer in convs] == list(config.models["cnn"].image.filters)
    assert all(layer.kernel_size == (3, 3) for layer in convs)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == len(convs) and all(layer.momentum == 0.9 for layer in norms)

    image = dataclasses.replace(config.models["cnn"].image, kernel_size=5, convs_per_block=2, batch_norm=False)
    variant = build_network("cnn", dataclasses.replace(config.models["cnn"], image=image), SHAPE, TRAINING_ROWS, seed=0)
    convs = [layer for layer in variant.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 2 * len(image.filters) and all(layer.kernel_size == (5, 5) for layer in convs)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in variant.layers)


@pytest.mark.parametrize("pooling", ["time_average", "average", "max", "flatten"])
def test_every_global_pooling_builds_and_predicts(config, pooling):
    image = dataclasses.replace(config.models["cnn"].image, global_pooling=pooling)
    model = build_network("cnn", dataclasses.replace(config.models["cnn"], image=image), SHAPE, TRAINING_ROWS, seed=0)
    tracks = Tracks(np.random.default_rng(0).random((3, *SHAPE)), np.zeros((3, 57)))
    probabilities = family("cnn").predict_proba(model, tracks)
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_time_average_keeps_the_frequency_rows(config):
    image = dataclasses.replace(config.models["cnn"].image, global_pooling="time_average")
    model = build_network("cnn", dataclasses.replace(config.models["cnn"], image=image), SHAPE, TRAINING_ROWS, seed=0)
    rows_left = SHAPE[0] // 2 ** len(image.filters)
    assert model.get_layer("image_flatten").output.shape[-1] == rows_left * image.filters[-1]


def standardised(model, rows):
    layer = model.get_layer("features_standardised")
    return keras.Model(model.input, layer.output).predict({"features": rows}, verbose=0)


def test_tabular_branch_takes_raw_rows_and_standardises_their_logs(config):
    scaled = standardised(build(config, "mlp"), TRAINING_ROWS)
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0, atol=1e-3)
    variances = [index for index, name in enumerate(FEATURE_COLUMNS) if name.endswith("_var")]
    logged = TRAINING_ROWS.copy()
    logged[:, variances] = np.log(logged[:, variances])
    expected = (logged - logged.mean(axis=0)) / logged.std(axis=0)
    np.testing.assert_allclose(scaled, expected, atol=1e-3)


def test_log_of_variances_can_be_switched_off(config):
    tabular = dataclasses.replace(config.models["mlp"].tabular, log_variances=False)
    model = build_network(
        "mlp", dataclasses.replace(config.models["mlp"], tabular=tabular), SHAPE, TRAINING_ROWS, seed=0
    )
    expected = (TRAINING_ROWS - TRAINING_ROWS.mean(axis=0)) / TRAINING_ROWS.std(axis=0)
    np.testing.assert_allclose(standardised(model, TRAINING_ROWS), expected, atol=1e-3)
    assert "features_log_variances" not in layer_names(model)


def test_a_saved_model_with_the_log_layer_reloads(config, tmp_path):
    model = inference_model(build(config, "fused"))
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras")
    inputs = {"image": np.random.default_rng(1).random((2, *SHAPE)), "features": TRAINING_ROWS[:2]}
    np.testing.assert_allclose(again.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-6)


def test_model_inputs_give_each_model_only_its_views(config):
    tracks = Tracks(np.zeros((2, *SHAPE)), np.zeros((2, 57)))
    assert set(model_inputs(build(config, "cnn"), tracks)) == {"image"}
    assert set(model_inputs(build(config, "mlp"), tracks)) == {"features"}
    assert set(model_inputs(build(config, "fused"), tracks)) == {"image", "features"}
    assert model_inputs(build(config, "mlp"), tracks)["features"].dtype == np.float32


def test_auxiliary_heads_are_for_training_only(config):
    head = dataclasses.replace(config.models["fused"].head, auxiliary_weight=0.3)
    model = build_network("fused", dataclasses.replace(config.models["fused"], head=head), SHAPE, TRAINING_ROWS, seed=0)
    assert set(model.output) == {"genre", "image_genre", "features_genre"}
    served = inference_model(model)
    assert tuple(served.output.shape) == (None, 10)
    assert not {"image_genre", "features_genre"} & layer_names(served)
    inputs = {"image": np.random.default_rng(2).random((2, *SHAPE)), "features": TRAINING_ROWS[:2]}
    np.testing.assert_allclose(served.predict(inputs, verbose=0), model.predict(inputs, verbose=0)["genre"], atol=1e-6)


def test_single_branch_models_never_get_auxiliary_heads(config):
    for name in ("cnn", "mlp"):
        network = config.models[name]
        head = dataclasses.replace(network.head, auxiliary_weight=0.5)
        model = build_network(name, dataclasses.replace(network, head=head), SHAPE, TRAINING_ROWS, seed=0)
        assert not isinstance(model.output, dict) and inference_model(model) is model


def masked_network(config, masking, seed=0):
    image = dataclasses.replace(config.models["cnn"].image, time_shift=0.0, masking=masking)
    return build_network("cnn", dataclasses.replace(config.models["cnn"], image=image), SHAPE, TRAINING_ROWS, seed=seed)


def masks(model, images, training=True):
    return np.asarray(model.get_layer("image_masking")(images, training=training))


def test_time_masks_zero_whole_columns_in_bands_of_at_most_their_width(config):
    model = masked_network(config, MaskingConfig(time_masks=1, time_width=0.2, frequency_masks=0, frequency_width=0.1))
    images = np.full((64, *SHAPE), 0.5, np.float32)
    masked = masks(model, images)
    assert np.array_equal(masks(model, images, training=False), images)
    for example in masked[..., 0]:
        zero_columns = np.flatnonzero((example == 0).all(axis=0))
        assert np.array_equal(example == 0, np.broadcast_to(np.isin(np.arange(SHAPE[1]), zero_columns), SHAPE[:2]))
        assert len(zero_columns) <= int(0.2 * SHAPE[1])
        if len(zero_columns):
            assert np.array_equal(zero_columns, np.arange(zero_columns[0], zero_columns[-1] + 1))  # one band
    widths = [(example == 0).all(axis=0).sum() for example in masked[..., 0]]
    assert len(set(widths)) > 3  # widths and places vary between examples


def test_frequency_masks_zero_whole_rows_and_both_kinds_combine(config):
    model = masked_network(config, MaskingConfig(time_masks=2, time_width=0.1, frequency_masks=2, frequency_width=0.25))
    masked = masks(model, np.full((64, *SHAPE), 0.5, np.float32))[..., 0]
    zero_rows = (masked == 0).all(axis=2)
    zero_columns = (masked == 0).all(axis=1)
    assert zero_rows.sum(axis=1).max() <= 2 * int(0.25 * SHAPE[0])
    assert zero_rows.any() and zero_columns.any()
    explained = zero_rows[:, :, None] | zero_columns[:, None, :]
    assert np.array_equal(masked == 0, explained)  # every zero lies in a masked row or column


def test_masks_are_seeded_and_a_masked_model_reloads(config, tmp_path):
    masking = MaskingConfig(time_masks=2, time_width=0.2, frequency_masks=1, frequency_width=0.2)
    images = np.random.default_rng(1).random((8, *SHAPE)).astype(np.float32)
    first, again, other = (masked_network(config, masking, seed) for seed in (5, 5, 6))
    assert np.array_equal(masks(first, images), masks(again, images))
    assert not np.array_equal(masks(first, images), masks(other, images))
    first.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    inputs = {"image": images}
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), first.predict(inputs, verbose=0), atol=1e-6)


def test_a_masked_network_trains_in_keras_fit(config):
    model = masked_network(config, MaskingConfig(time_masks=2, time_width=0.1, frequency_masks=2, frequency_width=0.1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(3).random((16, *SHAPE)).astype(np.float32)
    history = model.fit({"image": images}, np.arange(16) % 10, batch_size=8, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
