"""Ensembles of one network kind and stacks across kinds: what they train on, what they save, and
that a stack's weights come from out-of-fold predictions of the training rows only."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

from multimodal_genre.cli import main
from multimodal_genre.data import GENRES, holdout_split
from multimodal_genre.errors import ConfigError
from multimodal_genre.experiments import run_comparison, train_model
from multimodal_genre.families import family
from multimodal_genre.families.network_settings import EnsembleConfig
from multimodal_genre.runs import load_model_run
from multimodal_genre.stacking import greedy_selection

from conftest import FAST_CONFIG

PROBABILITIES = [f"p_{genre}" for genre in GENRES]


def with_ensemble(config, name, members, subsets, epochs=8):
    network = config.models[name]
    training = dataclasses.replace(network.training, epochs=epochs, ensemble=EnsembleConfig(members, subsets))
    return config.with_model(name, dataclasses.replace(network, training=training))


@pytest.fixture(scope="module")
def split(fast_dataset, fast_config):
    return holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)


@pytest.fixture(scope="module")
def fold_ensemble(fast_dataset, fast_config, split):
    return train_model("fused", with_ensemble(fast_config, "fused", 3, "folds"), fast_dataset, split)


def test_a_fold_ensemble_is_one_keras_model_averaging_its_members(fold_ensemble, fast_dataset, split, tmp_path):
    images, features = fast_dataset.images[split.test], fast_dataset.features[split.test]
    members = [member.predict_proba(images, features) for member in fold_ensemble.members]
    np.testing.assert_allclose(fold_ensemble.predict_proba(images, features), np.mean(members, axis=0), atol=1e-6)

    fold_ensemble.save(tmp_path)
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert set(loaded.input) == {"image", "features"}
    assert [layer.name for layer in loaded.layers if isinstance(layer, keras.Model)] == [
        f"fused_member{index}" for index in (1, 2, 3)
    ]
    np.testing.assert_allclose(
        loaded.predict({"image": images, "features": features}, verbose=0), np.mean(members, axis=0), atol=1e-6
    )


def test_fold_members_predict_only_the_inner_fold_they_never_trained_on(fold_ensemble, fast_dataset, split):
    pool = np.union1d(split.train, split.validation)
    out_of_fold = fold_ensemble.out_of_fold
    np.testing.assert_array_equal(out_of_fold.rows, pool)  # every training row once, no test row
    assert not np.isin(split.test, out_of_fold.rows).any()
    np.testing.assert_allclose(out_of_fold.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = np.mean(out_of_fold.probabilities.argmax(axis=1) == fast_dataset.labels[pool])
    assert accuracy > 0.5  # well above chance (0.1) on rows no member that predicted them saw
    assert fold_ensemble.history["member"].unique().tolist() == [1, 2, 3]
    assert fold_ensemble.best_epoch == sum(member.best_epoch for member in fold_ensemble.members)


def test_seed_members_train_on_the_same_rows_with_their_own_seeds(fast_dataset, fast_config, split):
    trained = train_model("mlp", with_ensemble(fast_config, "mlp", 2, "seeds", epochs=2), fast_dataset, split)
    first, second = (member.model.get_weights()[-2] for member in trained.members)
    assert not np.allclose(first, second)
    assert trained.out_of_fold is None  # same rows for every member: nothing is out of fold


def test_a_run_folder_records_each_member(fold_ensemble, fast_dataset, fast_config, split, tmp_path):
    from multimodal_genre.experiments import write_trained_run

    config = with_ensemble(fast_config, "fused", 3, "folds")
    probabilities = fold_ensemble.predict_proba(fast_dataset.images[split.test], fast_dataset.features[split.test])
    write_trained_run(fold_ensemble, probabilities, fast_dataset, config, split, tmp_path / "fused", None, None, None)
    record = json.loads((tmp_path / "fused" / "run.json").read_text())["training"]
    assert [member["ran"] for member in record["members"]] == [len(m.history) for m in fold_ensemble.members]
    assert all(0 <= member["validation"]["val_accuracy"] <= 1 for member in record["members"])
    out_of_fold = pd.read_csv(tmp_path / "fused" / "out_of_fold.csv")
    split_table = pd.read_csv(tmp_path / "fused" / "split.csv")
    assert set(out_of_fold["track"]) == set(split_table.loc[split_table["side"] != "test", "track"])
    run = load_model_run(tmp_path / "fused")
    np.testing.assert_allclose(
        run.predict_proba(fast_dataset.images[split.test], fast_dataset.features[split.test]), probabilities, atol=1e-6
    )


def test_train_jobs_train_the_members_side_by_side_with_the_serial_figures(synthetic_root, tmp_path, capsys):
    """`train --jobs 2` trains a fold ensemble's members in two workers; one worker with the same
    threads per training gives the same predictions, and the run records every member."""
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    settings["models"]["mlp"]["training"].update(epochs=8, ensemble={"members": 3, "subsets": "folds"})
    path = tmp_path / "ensemble.yaml"
    path.write_text(yaml.safe_dump(settings))
    arguments = ["train", "--model", "mlp", "--data", str(synthetic_root), "--config", str(path), "--threads", "1"]
    for jobs in (1, 2):
        assert main([*arguments, "--jobs", str(jobs), "--out", str(tmp_path / f"jobs{jobs}")]) == 0
    assert "2 worker processes, 1 thread(s) each" in capsys.readouterr().out
    parallel, serial = (pd.read_csv(tmp_path / f"jobs{jobs}" / "predictions.csv") for jobs in (2, 1))
    pd.testing.assert_frame_equal(parallel, serial)
    assert (parallel["predicted_genre"] == parallel["true_genre"]).mean() > 0.3  # chance: 0.1
    record = json.loads((tmp_path / "jobs2" / "run.json").read_text())["training"]
    assert len(record["members"]) == 3
    assert len(pd.read_csv(tmp_path / "jobs2" / "out_of_fold.csv")) > 0


def test_greedy_selection_weights_the_members_that_lower_the_loss():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 400)
    truth = np.eye(10)[labels]
    noise = rng.dirichlet(np.ones(10), size=(3, 400))
    good, partial, useless = 0.7 * truth + 0.3 * noise[0], 0.4 * truth + 0.6 * noise[1], noise[2]
    weights, history = greedy_selection([useless, good, partial], labels, rounds=20)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] == 0 and weights[1] > weights[2]
    assert history["loss"].min() <= history["loss"].iloc[0]  # never worse than the best single member
    assert list(history.columns) == ["round", "loss", "accuracy"]


def test_greedy_selection_mixes_members_that_err_differently():
    labels = np.repeat(np.arange(10), 20)
    truth = np.eye(10)[labels]
    first_half = labels < 5
    left = np.where(first_half[:, None], 0.9 * truth + 0.01, 0.1)  # right on genres 0-4 only
    right = np.where(first_half[:, None], 0.1, 0.9 * truth + 0.01)  # right on genres 5-9 only
    weights, _ = greedy_selection([left, right], labels, rounds=10)
    assert weights == pytest.approx([0.5, 0.5])


@pytest.fixture(scope="module")
def stacked(tmp_path_factory, fast_dataset, fast_config):
    config = with_ensemble(fast_config, "mlp", 3, "folds", epochs=15)
    config = config.with_model("stack", family("stack").settings(members=("mlp", "xgboost"), rounds=10, folds=3))
    out = tmp_path_factory.mktemp("stacked") / "compare"
    return run_comparison(fast_dataset, config, out, models=["mlp", "xgboost", "stack"], folds=2), config


def test_a_stack_chooses_its_weights_on_training_rows_only(stacked, fast_dataset):
    result, config = stacked
    for index in (1, 2):
        fold = result.directory / f"fold{index}"
        sides = pd.read_csv(fold / "stack" / "split.csv")
        test_tracks = set(sides.loc[sides["side"] == "test", "track"])
        tables = {name: pd.read_csv(fold / name / "out_of_fold.csv").set_index("track") for name in ("mlp", "xgboost")}
        for table in tables.values():
            assert not test_tracks & set(table.index)
        tracks = tables["mlp"].index
        labels = tables["mlp"]["true_genre"].map(GENRES.index).to_numpy()
        candidates = [tables[name].loc[tracks, PROBABILITIES].to_numpy() for name in ("mlp", "xgboost")]
        expected, _ = greedy_selection(candidates, labels, rounds=10)
        weights = json.loads((fold / "stack" / "stack.json").read_text())["weights"]
        assert [weights["mlp"], weights["xgboost"]] == pytest.approx(expected)

        test = {
            name: pd.read_csv(fold / name / "predictions.csv").set_index("track")
            for name in ("mlp", "xgboost", "stack")
        }
        blended = sum(weights[name] * test[name].loc[test["stack"].index, PROBABILITIES] for name in ("mlp", "xgboost"))
        np.testing.assert_allclose(test["stack"][PROBABILITIES].to_numpy(), blended.to_numpy(), atol=1e-6)


def test_a_stack_is_reported_and_predicts_like_any_model(stacked, fast_dataset):
    result, _ = stacked
    assert result.scores["model"].tolist() == ["mlp", "xgboost", "stack"] * 2
    assert (result.scores.loc[result.scores["model"] == "stack", "macro_f1"] > 0.3).all()
    run = load_model_run(result.directory / "fold1" / "stack")
    rows = np.arange(20)
    predicted = run.predict_proba(fast_dataset.images[rows], fast_dataset.features[rows])
    np.testing.assert_allclose(predicted.sum(axis=1), 1.0, rtol=1e-5)


def test_a_stack_member_must_be_compared_too(fast_dataset, fast_config, tmp_path):
    config = fast_config.with_model("stack", family("stack").settings(members=("mlp", "xgboost"), rounds=5, folds=3))
    with pytest.raises(ConfigError, match="models.stack.members: 'xgboost' must be compared too"):
        run_comparison(fast_dataset, config, tmp_path / "out", models=["mlp", "stack"], folds=2)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"models": {"mlp": {"training": {"ensemble": {"members": 1, "subsets": "folds"}}}}},
            "models.mlp.training.ensemble.members",
        ),
        (
            {"models": {"mlp": {"training": {"ensemble": {"members": 3, "subsets": "bags"}}}}},
            "models.mlp.training.ensemble.subsets",
        ),
        (
            {"models": {"stack": {"members": ["mlp", "stack"], "rounds": 5, "folds": 3}}},
            "'stack' is not a model a stack can average",
        ),
        ({"models": {"stack": {"members": ["mlp"], "rounds": 5, "folds": 3}}}, "must name at least two models"),
    ],
)
def test_bad_ensemble_settings_are_one_line_errors(section, message, tmp_path, synthetic_root, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(section))
    assert main(["compare", "--data", str(synthetic_root), "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error and "Traceback" not in error


def test_a_stack_cannot_be_trained_alone(synthetic_root, tmp_path, capsys):
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    settings["models"]["stack"] = {"members": ["mlp", "xgboost"], "rounds": 5, "folds": 3}
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(settings))
    arguments = ["train", "--model", "stack", "--data", str(synthetic_root), "--config", str(path)]
    assert main([*arguments, "--out", str(tmp_path / "run")]) == 2
    assert "compare --models mlp xgboost stack" in capsys.readouterr().err
