import dataclasses
import logging

import keras
import numpy as np
import pandas as pd
import pytest

from multimodal_genre.data import GENRES, holdout_split
from multimodal_genre.errors import DataError
from multimodal_genre.families.networks.build import build_network, model_inputs
from multimodal_genre.families.networks.fitting import settle_batch_norm
from multimodal_genre.training import run_model, train_model
from multimodal_genre.views import prepare


@pytest.fixture(scope="module")
def split(fast_dataset, fast_config):
    return holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)


def with_training(config, name, **changes):
    network = config.models[name]
    return config.with_model(
        name, dataclasses.replace(network, training=dataclasses.replace(network.training, **changes))
    )


def predictions(comparison, name):
    return pd.read_csv(comparison.directory / name / "predictions.csv")


def share_right(table, view):
    """Accuracy on what one view of the synthetic data encodes: the genre family or the member."""
    true = table["true_genre"].map(GENRES.index)
    predicted = table["predicted_genre"].map(GENRES.index)
    return float(np.mean(view(true) == view(predicted)))


def test_every_model_beats_chance_clearly(comparison):
    scores = comparison.scores.set_index("model")
    assert set(scores.index) == {"fused", "cnn", "mlp", "xgboost"}
    # Guessing scores a log loss of ln(10) = 2.30 and a ROC AUC of 0.5. Knowing one view's half
    # of the synthetic signal (family or member) is worth ln(10) - ln(5) = 0.69 of log loss.
    assert (scores["log_loss"] < np.log(10) - 0.5).all(), scores["log_loss"].to_dict()
    assert (scores["roc_auc_ovr"] > 0.75).all(), scores["roc_auc_ovr"].to_dict()
    assert (scores["accuracy"] > 0.2).all(), scores["accuracy"].to_dict()


def test_each_baseline_learns_what_its_view_carries(comparison):
    # The synthetic features encode the family (genre // 2), the images the member (genre % 2).
    assert share_right(predictions(comparison, "mlp"), lambda g: g // 2) > 0.8
    assert share_right(predictions(comparison, "xgboost"), lambda g: g // 2) > 0.8
    assert share_right(predictions(comparison, "cnn"), lambda g: g % 2) > 0.8


def test_fusion_pays_where_each_view_holds_half_the_answer(comparison):
    scores = comparison.scores.set_index("model")["macro_f1"]
    assert scores["fused"] > 0.8
    assert scores["fused"] > scores.drop("fused").max() + 0.2


def test_early_stopping_restores_the_best_epoch(fast_dataset, fast_config, split):
    # The MLP has no batch norm, so the restored weights alone decide the validation loss.
    config = with_training(fast_config, "mlp", epochs=25)
    trained = train_model("mlp", prepare(fast_dataset, config, ["mlp"]), split)
    assert 1 <= trained.kept <= len(trained.history) <= 25
    best = trained.history.loc[trained.kept - 1]
    assert best["val_loss"] == trained.history["val_loss"].min()
    inputs = model_inputs(trained.model, fast_dataset.tracks(split.validation))
    loss, _ = trained.model.evaluate(inputs, fast_dataset.labels[split.validation], verbose=0)
    assert loss == pytest.approx(best["val_loss"], rel=1e-4)


def test_a_cosine_schedule_warms_up_then_decays_to_the_last_epoch(fast_dataset, fast_config, split):
    config = with_training(fast_config, "mlp", epochs=8, schedule="cosine", warmup_epochs=2, learning_rate=0.003)
    trained = train_model("mlp", prepare(fast_dataset, config, ["mlp"]), split)
    rates = trained.history["learning_rate"].to_numpy()
    assert rates[:3] == pytest.approx([0.001, 0.002, 0.003])
    assert np.all(np.diff(rates[2:]) < 0) and 0 < rates[-1] < 0.0003


def test_a_network_without_early_stopping_trains_its_epochs_on_the_validation_rows_too(
    fast_dataset, fast_config, split, tmp_path
):
    config = with_training(fast_config, "mlp", epochs=6, early_stopping=None, schedule="cosine")
    run_model("mlp", prepare(fast_dataset, config, ["mlp"]), split, tmp_path / "mlp")
    sides = pd.read_csv(tmp_path / "mlp" / "split.csv")["side"].value_counts().to_dict()
    assert sides == {"train": len(split.train) + len(split.validation), "test": len(split.test)}
    history = pd.read_csv(tmp_path / "mlp" / "history.csv")
    assert len(history) == 6 and not history.filter(like="val_").notna().any().any()


def test_a_comparison_resumed_takes_back_a_network_without_early_stopping(fast_dataset, fast_config, tmp_path, caplog):
    from multimodal_genre.comparison import run_comparison

    config = with_training(fast_config, "mlp", epochs=3, early_stopping=None, schedule="cosine")
    first = run_comparison(fast_dataset, config, tmp_path / "compare", ["mlp"])
    caplog.set_level(logging.INFO, logger="multimodal_genre")
    again = run_comparison(fast_dataset, config, tmp_path / "compare", ["mlp"], resume=True)
    assert any("took back the finished run" in record.getMessage() for record in caplog.records)
    assert again.scores["macro_f1"].tolist() == first.scores["macro_f1"].tolist()


def batch_norm_gaps(model, images):
    """Per BN layer: largest |moving mean - mean of its inputs on ``images``| in units of their spread."""
    gaps = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            inputs = keras.Model(model.input, layer.input).predict({"image": images}, verbose=0)
            mean, spread = inputs.mean(axis=(0, 1, 2)), inputs.std(axis=(0, 1, 2)) + 1e-6
            gaps.append(float(np.max(np.abs(np.asarray(layer.moving_mean) - mean) / spread)))
    return gaps


def test_settle_batch_norm_fixes_statistics_that_lag_the_weights(fast_dataset, fast_config, split):
    keras.utils.set_random_seed(0)
    model = build_network(
        "cnn", fast_config.models["cnn"], fast_dataset.images.shape[1:], fast_dataset.features, seed=0
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.999  # averages that barely move in a few steps
    model.compile("adam", "sparse_categorical_crossentropy")
    images, labels = fast_dataset.images[split.train], fast_dataset.labels[split.train]
    model.fit({"image": images}, labels, epochs=2, batch_size=32, verbose=0)
    assert max(batch_norm_gaps(model, images)) > 1.0
    settle_batch_norm(model, {"image": images}, batch_size=32)
    assert max(batch_norm_gaps(model, images)) < 1e-3


def test_trained_networks_keep_settled_batch_norm_statistics(fast_dataset, fast_config, split):
    # A short run that early stopping may restore at an early epoch: the statistics still fit.
    trained = train_model("cnn", prepare(fast_dataset, with_training(fast_config, "cnn", epochs=6), ["cnn"]), split)
    assert max(batch_norm_gaps(trained.model, fast_dataset.images[split.train])) < 1e-3


def test_feature_standardisation_is_fitted_on_training_rows_only(fast_dataset, fast_config, split):
    trained = train_model("mlp", prepare(fast_dataset, with_training(fast_config, "mlp", epochs=1), ["mlp"]), split)
    layer = trained.model.get_layer("features_standardised")
    logs = np.asarray(trained.model.get_layer("features_log_variances")(fast_dataset.features))
    np.testing.assert_allclose(np.ravel(layer.mean), logs[split.train].mean(axis=0), rtol=1e-4, atol=1e-4)
    assert not np.allclose(np.ravel(layer.mean), logs.mean(axis=0), rtol=1e-4, atol=1e-4)


def test_auxiliary_heads_train_alongside_and_are_dropped_after(fast_dataset, fast_config, split):
    config = with_training(fast_config, "fused", epochs=6)
    head = dataclasses.replace(config.models["fused"].head, auxiliary_weight=0.5)
    fused = dataclasses.replace(config.models["fused"], head=head)
    trained = train_model("fused", prepare(fast_dataset, config.with_model("fused", fused), ["fused"]), split)
    assert tuple(trained.model.output.shape) == (None, 10)
    history = trained.history
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "total_loss", "val_image_genre_loss"} <= set(history)
    # The fused output's own loss is what early stopping watches and what "loss" reports.
    assert trained.kept == int(history["val_loss"].idxmin()) + 1
    assert (history["total_loss"] > history["loss"]).all()


def test_history_columns_are_the_same_for_every_network(fast_dataset, fast_config, split):
    trained = train_model("mlp", prepare(fast_dataset, with_training(fast_config, "mlp", epochs=2), ["mlp"]), split)
    assert list(trained.history.columns) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss", "learning_rate"]


def test_progress_lines_are_one_per_epoch(fast_dataset, fast_config, split, caplog):
    """At debug level: a command prints them with --verbose."""
    caplog.set_level(logging.DEBUG, logger="multimodal_genre")
    trained = train_model("mlp", prepare(fast_dataset, with_training(fast_config, "mlp", epochs=5), ["mlp"]), split)
    logger = "multimodal_genre.families.networks.fitting"
    lines = [record.getMessage() for record in caplog.records if record.name == logger]
    assert len(lines) == len(trained.history) == 5
    assert lines[0].startswith("mlp epoch 1/5: ") and "val_loss" in lines[0]


def test_a_network_with_auxiliary_heads_logs_its_genre_head_within_80_columns(fast_dataset, fast_config, split, caplog):
    caplog.set_level(logging.DEBUG, logger="multimodal_genre")
    trained = train_model(
        "fused", prepare(fast_dataset, with_training(fast_config, "fused", epochs=2), ["fused"]), split
    )
    logger = "multimodal_genre.families.networks.fitting"
    lines = [record.getMessage() for record in caplog.records if record.name == logger]
    assert "val_image_genre_loss" in trained.history  # the run folder's history keeps every head
    assert all(len(line) <= 80 for line in lines) and len(lines) == 2
    loss, accuracy = trained.history.loc[0, ["val_loss", "val_accuracy"]]  # the genre head's own
    assert f"val_loss {loss:.4f} val_acc {accuracy:.4f}" in lines[0]


def test_training_is_seeded(fast_dataset, fast_config, split):
    config = with_training(fast_config, "mlp", epochs=5)
    first = train_model("mlp", prepare(fast_dataset, config, ["mlp"]), split).history
    again = train_model("mlp", prepare(fast_dataset, config, ["mlp"]), split).history
    pd.testing.assert_frame_equal(first, again)
    other = train_model("mlp", prepare(fast_dataset, dataclasses.replace(config, seed=1), ["mlp"]), split).history
    assert not first["loss"].equals(other["loss"])


@pytest.mark.parametrize("optimizer", ["adam", "nadam", "adamw"])
def test_optimizer_comes_from_config(fast_dataset, fast_config, split, optimizer):
    trained = train_model(
        "mlp", prepare(fast_dataset, with_training(fast_config, "mlp", epochs=1, optimizer=optimizer), ["mlp"]), split
    )
    assert type(trained.model.optimizer).__name__.lower() == optimizer


def test_xgboost_history_is_per_round(fast_dataset, fast_config, split):
    trained = train_model("xgboost", prepare(fast_dataset, fast_config, ["xgboost"]), split)
    assert list(trained.history.columns) == ["round", "loss", "val_loss"]
    assert trained.kept < len(trained.history) <= fast_config.models["xgboost"].max_rounds
    assert trained.unit == "round"


def test_a_genre_missing_from_training_is_an_error(fast_dataset, fast_config, split):
    without_pop = split.train[fast_dataset.labels[split.train] != GENRES.index("pop")]
    broken = dataclasses.replace(split, train=without_pop)
    with pytest.raises(DataError, match="the training split has no tracks of pop"):
        train_model("mlp", prepare(fast_dataset, fast_config, ["mlp"]), broken)
