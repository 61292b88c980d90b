"""Bags of one family and stacks across families: what each member trains on and saw, what a bag
saves, and that a stack's weights come from out-of-fold predictions of the same models it applies."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from multimodal_genre.cli import main
from multimodal_genre.comparison import run_comparison
from multimodal_genre.config import load_config
from multimodal_genre.data import GENRES, holdout_split, inner_splits
from multimodal_genre.errors import ConfigError
from multimodal_genre.families import BaggingConfig, family
from multimodal_genre.families.bag import load_saved
from multimodal_genre.families.stack.selection import greedy_selection
from multimodal_genre.records import Provenance, read_record
from multimodal_genre.runs import load_model_run
from multimodal_genre.seen import SeenRowsError, held_out, unseen_probabilities
from multimodal_genre.settings import replaced
from multimodal_genre.training import train_model, write_trained_run
from multimodal_genre.views import prepare

from conftest import FAST_CONFIG, one_error

PROBABILITIES = [f"p_{genre}" for genre in GENRES]


def with_bagging(config, name, plan):
    """``config`` with ``name`` bagged as ``plan`` says (None: trained as one model)."""
    bagging = {key: value for key, value in config.bagging.items() if key != name}
    return dataclasses.replace(config, bagging=bagging | ({name: plan} if plan else {}))


def bagged(config, name, members, subsets, epochs=8):
    """``config`` with ``name`` trained ``epochs`` at most, as a bag of ``members``."""
    short = replaced(config.models[name], "training.epochs", epochs)
    return with_bagging(config.with_model(name, short), name, BaggingConfig(members, subsets))


@pytest.fixture(scope="module")
def split(fast_dataset, fast_config):
    return holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)


@pytest.fixture(scope="module")
def fold_bag(fast_dataset, fast_config, split):
    return train_model("fused", prepare(fast_dataset, bagged(fast_config, "fused", 3, "folds"), ["fused"]), split)


def test_a_bag_averages_its_members_and_saves_each_in_its_own_folder(fold_bag, fast_dataset, split, tmp_path):
    tracks = fast_dataset.tracks(split.test)
    members = [member.predict_proba(tracks) for member in fold_bag.members]
    np.testing.assert_allclose(fold_bag.predict_proba(tracks), np.mean(members, axis=0), atol=1e-6)
    fold_bag.save(tmp_path)
    assert json.loads((tmp_path / "bag.json").read_text()) == {"members": 3}
    assert all((tmp_path / f"member{index}" / "model.keras").is_file() for index in (1, 2, 3))
    owner, loaded = load_saved(family("fused"), tmp_path)
    np.testing.assert_allclose(owner.predict_proba(loaded, tracks), np.mean(members, axis=0), atol=1e-6)


def test_fold_members_train_on_the_pool_less_their_inner_fold_and_predict_only_that_fold(
    fold_bag, fast_dataset, fast_config, split
):
    """Each member's rows are checked against the inner folds themselves, duplicate groups included:
    a member that trained on the whole pool, stopped early on the fold it predicts, or trained on a
    duplicate of a track it predicts, fails here."""
    inner = inner_splits(fast_dataset.labels, fast_dataset.groups, split, 3, fast_config.seed)
    pool = np.union1d(split.train, split.validation)
    ids, groups = fast_dataset.track_ids, fast_dataset.groups
    assert sorted(np.concatenate([fold.validation for fold in inner])) == list(pool)
    assert len(fast_dataset.duplicate_sets()) > 0  # the synthetic data has duplicates to keep together
    for member, fold in zip(fold_bag.members, inner, strict=True):
        seen = member.seen.trained | member.seen.watched
        assert seen == set(ids[fold.train]) and member.seen.watched and not member.seen.trained & member.seen.watched
        assert not seen & set(ids[fold.validation])  # it neither trains nor stops early on the fold it predicts
        assert not set(groups[fold.train]) & set(groups[fold.validation])  # no duplicate on both sides
        assert not (member.seen.trained | member.seen.watched) & set(ids[split.test])
    oof = fold_bag.out_of_fold
    np.testing.assert_array_equal(oof.rows, pool)  # every pool row once, no test row
    for index, (member, fold) in enumerate(zip(fold_bag.members, inner, strict=True)):
        rows = oof.rows[oof.predicted_by == index]
        np.testing.assert_array_equal(rows, fold.validation)  # member k predicts its own fold, and only it
        own = member.predict_proba(fast_dataset.tracks(rows))
        np.testing.assert_allclose(oof.probabilities[oof.predicted_by == index], own, atol=1e-6)
    accuracy = np.mean(oof.probabilities.argmax(axis=1) == fast_dataset.labels[pool])
    assert accuracy > 0.3  # well above chance (0.1) on rows no model that predicted them trained or stopped on
    assert fold_bag.history["member"].unique().tolist() == [1, 2, 3]
    assert fold_bag.kept is None and all(1 <= member.kept <= 8 for member in fold_bag.members)


def test_a_bag_is_never_scored_on_rows_its_members_trained_on(fold_bag, fast_dataset, split):
    with pytest.raises(SeenRowsError, match=r"fused trained on \d+ of the \d+ tracks it was to be scored on"):
        unseen_probabilities(fold_bag, fast_dataset, split.validation, validating=True)
    # Validated instead on its out-of-fold predictions of the whole pool, one part per member.
    oof, parts = fold_bag.out_of_fold, held_out(fold_bag, fast_dataset, split)
    np.testing.assert_array_equal(np.sort(np.concatenate([part.rows for part in parts])), oof.rows)
    for index, part in enumerate(parts):
        np.testing.assert_array_equal(part.rows, oof.rows[oof.predicted_by == index])
        assert 0 < part.test_to_train < 1


def test_seed_members_train_on_the_same_rows_with_their_own_seeds(fast_dataset, fast_config, split):
    trained = train_model(
        "mlp", prepare(fast_dataset, bagged(fast_config, "mlp", 2, "seeds", epochs=2), ["mlp"]), split
    )
    first, second = (member.model.get_weights()[-2] for member in trained.members)
    assert not np.allclose(first, second)
    assert trained.members[0].seen == trained.members[1].seen == trained.seen
    assert trained.out_of_fold is None  # same rows for every member: nothing is out of fold


def test_any_family_bags_xgboost_included(fast_dataset, fast_config, split):
    config = with_bagging(fast_config, "xgboost", BaggingConfig(3, "folds"))
    trained = train_model("xgboost", prepare(fast_dataset, config, ["xgboost"]), split)
    assert len(trained.members) == 3 and trained.out_of_fold is not None
    assert [member.seen for member in trained.members] != [trained.members[0].seen] * 3


def test_a_run_folder_records_each_member_and_what_it_saw(fold_bag, fast_dataset, fast_config, split, tmp_path):
    config = bagged(fast_config, "fused", 3, "folds")
    write_trained_run(fold_bag, fast_dataset, config, split, tmp_path / "fused", Provenance())
    record = json.loads((tmp_path / "fused" / "run.json").read_text())
    assert record["format"] == 2 and record["training"]["kept"] is None
    assert [member["kept"] for member in record["training"]["members"]] == [m.kept for m in fold_bag.members]
    assert all(0 <= member["validation"]["val_accuracy"] <= 1 for member in record["training"]["members"])
    sides = pd.read_csv(tmp_path / "fused" / "split.csv").set_index("track")
    for index, member in enumerate(fold_bag.members, start=1):
        assert set(sides.index[sides[f"member{index}"] == "train"]) == member.seen.trained
        assert set(sides.index[sides[f"member{index}"] == "validation"]) == member.seen.watched
    out_of_fold = pd.read_csv(tmp_path / "fused" / "out_of_fold.csv")
    assert set(out_of_fold["track"]) == set(sides.index[sides["side"] != "test"])
    assert out_of_fold["member"].tolist() == (fold_bag.out_of_fold.predicted_by + 1).tolist()
    run = load_model_run(tmp_path / "fused")
    assert run.seen == fold_bag.seen and run.member_seen == tuple(member.seen for member in fold_bag.members)
    tracks = fast_dataset.tracks(split.test)
    np.testing.assert_allclose(run.predict_proba(tracks), fold_bag.predict_proba(tracks), atol=1e-6)


def test_train_jobs_train_the_members_side_by_side_with_the_serial_figures(synthetic_root, tmp_path, capsys):
    """`train --jobs 2` trains a fold bag's members in two workers; one worker with the same threads
    per training gives the same predictions, and the run records every member."""
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    settings["models"]["mlp"]["training"].update(epochs=8)
    settings["models"]["mlp"]["bagging"] = {"members": 3, "subsets": "folds"}
    path = tmp_path / "bag.yaml"
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


def test_the_old_ensemble_key_still_reads_as_bagging(tmp_path):
    path = tmp_path / "old.yaml"
    old = {
        "mlp": {"training": {"ensemble": {"members": 3, "subsets": "seeds"}}},
        "fused": {"training": {"ensemble": None}},
    }
    path.write_text(yaml.safe_dump({"models": old}))
    config = load_config(path)
    assert config.bagging == {"mlp": BaggingConfig(3, "seeds")}  # and the fused default's bag is off
    both = tmp_path / "both.yaml"
    both.write_text("models:\n  mlp:\n    training: {ensemble: null}\n    bagging: {members: 2, subsets: folds}\n")
    with pytest.raises(ConfigError, match="'training.ensemble' is the old place of 'bagging': give one of them"):
        load_config(both)


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


def stacked_config(config, members=("mlp", "xgboost")):
    config = with_bagging(bagged(config, "mlp", 3, "folds", epochs=15), "xgboost", BaggingConfig(3, "folds"))
    return config.with_model("stack", family("stack").settings(base_models=members, rounds=10))


@pytest.fixture(scope="module")
def stacked(tmp_path_factory, fast_dataset, fast_config):
    config = stacked_config(fast_config)
    out = tmp_path_factory.mktemp("stacked") / "compare"
    return run_comparison(fast_dataset, config, out, models=["mlp", "xgboost", "stack"], folds=2), config


def test_a_stack_chooses_its_weights_on_training_rows_only(stacked, fast_dataset):
    result, _ = stacked
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


def test_a_stack_members_held_out_and_test_predictions_come_from_the_same_models(stacked, fast_dataset):
    result, _ = stacked
    for name in ("mlp", "xgboost"):
        folder = result.directory / "fold1" / name
        run = load_model_run(folder)
        held_out = pd.read_csv(folder / "out_of_fold.csv").set_index("track")
        rows = np.flatnonzero(np.isin(fast_dataset.track_ids, held_out.index))
        tracks = fast_dataset.tracks(rows)
        singles = [run.family.inner.predict_proba(model, tracks) for model in run.model.members]
        by_member = held_out.loc[fast_dataset.track_ids[rows], "member"].to_numpy() - 1
        own = np.stack([singles[member][row] for row, member in enumerate(by_member)])
        np.testing.assert_allclose(held_out.loc[fast_dataset.track_ids[rows], PROBABILITIES], own, atol=1e-5)
        test = pd.read_csv(folder / "predictions.csv").set_index("track")
        rows = np.flatnonzero(np.isin(fast_dataset.track_ids, test.index))
        averaged = run.predict_proba(fast_dataset.tracks(rows))
        np.testing.assert_allclose(test.loc[fast_dataset.track_ids[rows], PROBABILITIES], averaged, atol=1e-5)


def test_a_stack_is_reported_and_predicts_like_any_model(stacked, fast_dataset):
    result, _ = stacked
    assert result.scores["model"].tolist() == ["mlp", "xgboost", "stack"] * 2
    assert (result.scores.loc[result.scores["model"] == "stack", "macro_f1"] > 0.3).all()
    run = load_model_run(result.directory / "fold1" / "stack")
    rows = np.arange(20)
    predicted = run.predict_proba(fast_dataset.tracks(rows))
    np.testing.assert_allclose(predicted.sum(axis=1), 1.0, rtol=1e-5)


def test_a_stack_written_before_it_held_its_base_models_loads_them_from_beside_it(stacked, fast_dataset, tmp_path):
    result, _ = stacked
    older = tmp_path / "fold1"
    shutil.copytree(result.directory / "fold1", older)
    shutil.rmtree(older / "stack" / "bases")  # as a comparison wrote a stack's run folder before
    rows = np.arange(20)
    expected = load_model_run(result.directory / "fold1" / "stack").predict_proba(fast_dataset.tracks(rows))
    np.testing.assert_allclose(load_model_run(older / "stack").predict_proba(fast_dataset.tracks(rows)), expected)


def test_a_stack_member_must_be_compared_too_and_fold_bagged(fast_dataset, fast_config, tmp_path):
    config = stacked_config(fast_config)
    with pytest.raises(ConfigError, match="models.stack.base_models: 'xgboost' must be compared too"):
        run_comparison(fast_dataset, config, tmp_path / "out", models=["mlp", "stack"], folds=2)
    unbagged = with_bagging(config, "xgboost", None)
    with pytest.raises(ConfigError, match="models.stack.base_models: 'xgboost' must be fold-bagged"):
        run_comparison(fast_dataset, unbagged, tmp_path / "out", models=["mlp", "xgboost", "stack"], folds=2)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"models": {"mlp": {"bagging": {"members": 1, "subsets": "folds"}}}}, "models.mlp.bagging.members"),
        ({"models": {"mlp": {"bagging": {"members": 3, "subsets": "bags"}}}}, "models.mlp.bagging.subsets"),
        (
            {"models": {"mlp": {"training": {"ensemble": {"members": 1, "subsets": "folds"}}}}},
            "models.mlp.bagging.members' must be at least 2",
        ),
        (
            {"models": {"stack": {"base_models": ["mlp", "stack"], "rounds": 5}}},
            "'stack' is not a model a stack can average",
        ),
        ({"models": {"stack": {"base_models": ["mlp"], "rounds": 5}}}, "must name at least two models"),
        (
            {
                "models": {
                    "stack": {
                        "base_models": ["mlp", "xgboost"],
                        "rounds": 5,
                        "bagging": {"members": 2, "subsets": "folds"},
                    }
                }
            },
            "models.stack.bagging' bags only a model of this config that trains",
        ),
    ],
)
def test_bad_bagging_settings_are_one_line_errors(section, message, tmp_path, synthetic_root, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(section))
    assert main(["compare", "--data", str(synthetic_root), "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    assert message in one_error(capsys.readouterr().err)


def stack_config_file(tmp_path, bagged=("mlp", "xgboost")):
    """The quick config with a stack of mlp and xgboost (its older key, ``members``), each fold-bagged
    where ``bagged`` says."""
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    settings["models"]["stack"] = {"members": ["mlp", "xgboost"], "rounds": 5}
    settings["models"]["mlp"]["training"]["epochs"] = 10
    for name in bagged:
        settings["models"][name]["bagging"] = {"members": 2, "subsets": "folds"}
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_a_stack_trains_alone_and_predicts_like_any_model(synthetic_root, tmp_path, fast_dataset):
    arguments = [
        "train",
        "--model",
        "stack",
        "--data",
        str(synthetic_root),
        "--config",
        str(stack_config_file(tmp_path)),
    ]
    assert main([*arguments, "--out", str(tmp_path / "run")]) == 0
    run = load_model_run(tmp_path / "run")
    assert run.name == "stack" and {path.name for path in (tmp_path / "run" / "bases").iterdir()} <= {"mlp", "xgboost"}
    sides = pd.read_csv(tmp_path / "run" / "split.csv").set_index("track")["side"]
    test = sides.index[sides == "test"]
    assert run.seen.trained.isdisjoint(test) and run.seen.watched.isdisjoint(test)
    held = pd.read_csv(tmp_path / "run" / "out_of_fold.csv")
    assert set(held["track"]) == set(sides.index[sides != "test"]) and set(held["member"]) == {1, 2}
    rows = np.flatnonzero(np.isin(fast_dataset.track_ids, test))
    probabilities = run.predict_proba(fast_dataset.tracks(rows))
    recorded = pd.read_csv(tmp_path / "run" / "predictions.csv").set_index("track").loc[fast_dataset.track_ids[rows]]
    np.testing.assert_allclose(recorded[PROBABILITIES].to_numpy(), probabilities, atol=1e-5)
    assert np.mean(probabilities.argmax(axis=1) == fast_dataset.labels[rows]) > 0.2  # chance: 0.1


def test_a_stack_of_a_model_not_fold_bagged_is_refused_before_training(synthetic_root, tmp_path, capsys):
    config = stack_config_file(tmp_path, bagged=("mlp",))
    arguments = ["train", "--model", "stack", "--data", str(synthetic_root), "--config", str(config)]
    assert main([*arguments, "--out", str(tmp_path / "run")]) == 2
    assert "models.stack.base_models: 'xgboost' must be fold-bagged" in one_error(capsys.readouterr().err)
    assert not any((tmp_path / "run").iterdir())  # nothing trained, nothing written


def test_a_stack_is_tuned_on_its_out_of_fold_predictions(synthetic_root, tmp_path):
    config = stack_config_file(tmp_path)
    arguments = ["tune", "--model", "stack", "--trials", "2", "--data", str(synthetic_root), "--config", str(config)]
    assert main([*arguments, "--out", str(tmp_path / "tuning")]) == 0
    record = read_record(tmp_path / "tuning" / "stack")
    assert "base models' out-of-fold predictions" in record.objective
    assert (
        record.trials["complete"] == 2
        and load_model_run(tmp_path / "tuning" / "stack" / record.final_run).name == "stack"
    )
