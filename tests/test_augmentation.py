"""Time crops with test-time averaging, and mixup: each acts where it should and nowhere else."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from multimodal_genre.cli import main
from multimodal_genre.data import GENRES, holdout_split
from multimodal_genre.families.networks.build import RandomTimeCrop, TimeCrops, build_network, inference_model
from multimodal_genre.families.networks.fitting import MixupBatches
from multimodal_genre.families.networks.settings import TimeCropConfig
from multimodal_genre.training import train_model
from multimodal_genre.views import prepare

from conftest import one_error

SHAPE = (16, 64, 1)
FEATURES = np.random.default_rng(0).normal(size=(30, 57)).astype("float32")


def cropped(config, name="fused", width=0.25, test_crops=4):
    network = config.models[name]
    image = dataclasses.replace(network.image, time_crop=TimeCropConfig(width, test_crops))
    return config.with_model(name, dataclasses.replace(network, image=image))


def test_training_windows_are_random_whole_slices_and_inference_takes_the_middle():
    images = np.random.default_rng(1).normal(size=(64, 16, 40, 1)).astype("float32")
    layer = RandomTimeCrop(10, test_crops=3, seed=4)
    windows = np.asarray(layer(images, training=True))
    assert windows.shape == (64, 16, 10, 1)
    starts = []
    for image, window in zip(images, windows, strict=True):
        (start,) = [s for s in range(31) if np.array_equal(image[:, s : s + 10], window)]
        starts.append(start)
    assert len(set(starts)) > 10  # each example its own place
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images[:, :, 15:25])


def test_test_time_windows_cover_the_clip_evenly():
    images = np.arange(2 * 40, dtype="float32").reshape(2, 1, 40, 1)
    windows = np.asarray(TimeCrops(10, 4)(images))
    assert windows.shape == (8, 1, 10, 1)
    assert [int(window[0, 0, 0]) for window in windows[:4]] == [0, 10, 20, 30]  # first and last at the ends
    assert int(windows[4, 0, 0, 0]) == 40  # the second image's windows follow the first's


def test_a_cropped_network_predicts_the_mean_over_its_windows(two_view_config):
    model = build_network("fused", cropped(two_view_config).models["fused"], SHAPE, FEATURES, seed=0)
    assert model.input["image"].shape[1:] == SHAPE  # users still give whole clips
    served = inference_model(model)
    images = np.random.default_rng(2).normal(size=(5, *SHAPE)).astype("float32")
    predicted = served.predict({"image": images, "features": FEATURES[:5]}, verbose=0)
    core = inference_model(model.get_layer("fused_windows"))
    per_window = [
        core.predict({"image": images[:, :, start : start + 16], "features": FEATURES[:5]}, verbose=0)
        for start in (0, 16, 32, 48)
    ]
    np.testing.assert_allclose(predicted, np.mean(per_window, axis=0), atol=1e-5)


def test_a_cropped_network_trains_and_reloads(fast_dataset, fast_config, tmp_path):
    from multimodal_genre.families import family

    split = holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)
    trained = train_model(
        "cnn", prepare(fast_dataset, cropped(fast_config, "cnn", width=0.5, test_crops=3), ["cnn"]), split
    )
    tracks = fast_dataset.tracks(split.test)
    probabilities = trained.predict_proba(tracks)
    member = fast_dataset.labels[split.test] % 2  # what the synthetic images encode
    assert np.mean(probabilities.argmax(axis=1) % 2 == member) > 0.8  # chance: 0.5
    trained.save(tmp_path)
    np.testing.assert_allclose(
        family("cnn").predict_proba(family("cnn").load(tmp_path), tracks), probabilities, atol=1e-6
    )


def test_mixup_blends_both_views_and_the_genres_by_one_share():
    rng = np.random.default_rng(3)
    labels = np.arange(40) % 10
    inputs = {
        "image": rng.normal(size=(40, 4, 6, 1)).astype("float32"),
        "features": rng.normal(size=(40, 5)).astype("float32"),
    }
    targets = np.eye(10, dtype="float32")[labels]
    batches = MixupBatches(inputs, targets, batch_size=16, alpha=0.4, seed=0)
    assert len(batches) == 3
    mixed, soft = batches[0]
    assert mixed["image"].shape == (16, 4, 6, 1) and soft.shape == (16, 10)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    blended = 0
    for row in range(16):
        genres = np.flatnonzero(soft[row])
        share = soft[row].max()
        if len(genres) == 1:
            continue
        blended += 1
        first, second = (np.flatnonzero(labels == genre) for genre in genres[np.argsort(-soft[row, genres])])
        matches = [
            (a, b)
            for a in first
            for b in second
            if np.allclose(
                mixed["features"][row], share * inputs["features"][a] + (1 - share) * inputs["features"][b], atol=1e-5
            )
        ]
        assert len(matches) == 1
        a, b = matches[0]
        np.testing.assert_allclose(
            mixed["image"][row], share * inputs["image"][a] + (1 - share) * inputs["image"][b], atol=1e-5
        )
    assert blended > 8


def test_a_network_trained_with_mixup_learns(fast_dataset, fast_config):
    split = holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)
    network = fast_config.models["mlp"]
    config = fast_config.with_model(
        "mlp", dataclasses.replace(network, training=dataclasses.replace(network.training, mixup=0.4, epochs=30))
    )
    trained = train_model("mlp", prepare(fast_dataset, config, ["mlp"]), split)
    probabilities = trained.predict_proba(fast_dataset.tracks(split.test))
    assert np.mean(probabilities.argmax(axis=1) == fast_dataset.labels[split.test]) > 0.3  # chance: 0.1
    assert len(GENRES) == probabilities.shape[1]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"image": {"time_crop": {"width": 1.5, "test_crops": 3}}}, "models.cnn.image.time_crop.width"),
        ({"image": {"time_crop": {"width": 0.3, "test_crops": 0}}}, "models.cnn.image.time_crop.test_crops"),
        ({"training": {"mixup": -1.0}}, "models.cnn.training.mixup"),
    ],
)
def test_bad_augmentation_settings_name_the_key(section, key, tmp_path, synthetic_root, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"models": {"cnn": section}}))
    assert main(["data", "summary", "--data", str(synthetic_root), "--config", str(path)]) == 2
    assert key in one_error(capsys.readouterr().err)
