import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from multimodal_genre.data import FEATURE_COLUMNS, GENRES
from multimodal_genre.data.layout import image_path
from multimodal_genre.errors import DataError, RunError
from multimodal_genre.prediction import predict_one, predict_tracks
from multimodal_genre.runs import load_model_run

PROBABILITIES = [f"p_{genre}" for genre in GENRES]


@pytest.mark.parametrize("name", ["fused", "cnn", "mlp", "xgboost"])
def test_a_reloaded_model_predicts_the_same_probabilities(comparison, fast_dataset, name):
    saved = pd.read_csv(comparison.directory / name / "predictions.csv")
    run = load_model_run(comparison.directory / name)
    assert run.name == name
    again = predict_tracks(run, fast_dataset, list(saved["track"]))
    np.testing.assert_allclose(again[PROBABILITIES].to_numpy(), saved[PROBABILITIES].to_numpy(), atol=1e-6)
    assert (again["predicted_genre"] == saved["predicted_genre"]).all()


def test_tracks_are_named_with_or_without_wav(comparison, fast_dataset):
    run = load_model_run(comparison.directory / "mlp")
    table = predict_tracks(run, fast_dataset, ["pop.00002.wav", "blues.00005"])
    assert table["track"].tolist() == ["pop.00002", "blues.00005"]
    assert table["true_genre"].tolist() == ["pop", "blues"]
    assert len(predict_tracks(run, fast_dataset)) == len(fast_dataset)


def test_unknown_track_is_named(comparison, fast_dataset):
    run = load_model_run(comparison.directory / "mlp")
    with pytest.raises(DataError, match="no track named polka.00001"):
        predict_tracks(run, fast_dataset, ["blues.00001", "polka.00001"])


def test_in_memory_prediction_matches_the_dataset_path(comparison, fast_dataset, synthetic_root):
    run = load_model_run(comparison.directory / "fused")
    row = int(np.flatnonzero(fast_dataset.track_ids == "reggae.00004")[0])
    features = dict(zip(FEATURE_COLUMNS, fast_dataset.features[row], strict=True))
    expected = predict_tracks(run, fast_dataset, ["reggae.00004"])[PROBABILITIES].to_numpy()[0]
    from_path = predict_one(run, image_path(synthetic_root, "reggae", "reggae.00004.wav"), features)
    assert list(from_path) == list(GENRES)
    np.testing.assert_allclose(list(from_path.values()), expected, atol=1e-6)
    with Image.open(image_path(synthetic_root, "reggae", "reggae.00004.wav")) as picture:
        from_image = predict_one(run, picture, fast_dataset.features[row])
    np.testing.assert_allclose(list(from_image.values()), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ({"tempo": 120.0}, "missing"),
        ([1.0, 2.0], "expected 57 values"),
        ([float("nan")] * 57, "must be finite numbers"),
    ],
)
def test_bad_feature_rows_are_explained(comparison, synthetic_root, features, message):
    run = load_model_run(comparison.directory / "mlp")
    with pytest.raises(DataError, match=message):
        predict_one(run, image_path(synthetic_root, "pop", "pop.00001.wav"), features)


def test_a_comparison_folder_is_not_a_model_run(comparison):
    with pytest.raises(
        RunError, match="a comparison folder, not a single model's run; its model runs are in: cnn, fused"
    ):
        load_model_run(comparison.directory)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(RunError, match="not a run folder"):
        load_model_run(tmp_path)
    with pytest.raises(RunError, match="no such run folder"):
        load_model_run(tmp_path / "missing")


def test_a_run_from_an_incompatible_version_is_refused(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"format": 99, "kind": "model", "model": "mlp"}))
    with pytest.raises(RunError, match="run format 99, this version of multimodal-genre reads formats 1 and 2"):
        load_model_run(tmp_path)
