"""Optuna studies on synthetic data: tiny studies per model, pruning, resuming, a killed worker,
and (with a server) two workers sharing one PostgreSQL study."""

import dataclasses
import json
import logging
import logging.handlers
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import psycopg
import pytest
import sqlalchemy.exc
import yaml
from optuna.trial import TrialState
from sklearn.metrics import f1_score
from sqlalchemy.engine import make_url

from multimodal_genre import tuning
from multimodal_genre.cli import main
from multimodal_genre.config import load_config
from multimodal_genre.errors import RunError
from multimodal_genre.families import FAMILIES, family
from multimodal_genre.families.bag import load_saved
from multimodal_genre.records import read_record
from multimodal_genre.search import apply, default_values, load_search
from multimodal_genre.tuning import StudyOptions, objective, study_splits, tune
from multimodal_genre.tuning.storage import stopping_on_lost_storage

from conftest import FAST_CONFIG, one_error, required_by_ci

# A small space per model; the pruning test enqueues hopeless settings from outside it.
SMALL_SPACES = {
    "fused": {"training.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
    "cnn": {
        "training.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
        "image.kernel_size": {"type": "categorical", "choices": [3, 5]},
    },
    "mlp": {
        "training.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
        "tabular.width": {"type": "categorical", "choices": [16, 32]},
    },
    "xgboost": {
        "max_depth": {"type": "int", "low": 2, "high": 4},
        "min_child_weight": {"type": "float", "low": 0.5, "high": 4.0, "log": True},
    },
}


def small_search_file(path: Path, **changes) -> Path:
    """A search file that drops every packaged setting but those of SMALL_SPACES."""
    models = [name for name, owner in FAMILIES.items() if not owner.composite]
    spaces = {model: {key: None for key in family(model).search_space(model)} for model in models}
    for model, space in SMALL_SPACES.items():
        spaces[model].update(space)
    content = {
        "pruner": {
            "type": "median",
            "startup_trials": 1,
            "warmup": {name: 5 for name in ("fused", "cnn", "mlp", "xgboost")},
        },
        "storage": {"heartbeat_seconds": 1, "grace_seconds": 2, "retries": 1},
        "spaces": spaces,
        **changes,
    }
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.fixture(scope="module")
def search_file(tmp_path_factory):
    return small_search_file(tmp_path_factory.mktemp("search") / "search.yaml")


@pytest.fixture(scope="module")
def search(search_file, fast_config):
    return load_search(fast_config, search_file)


@pytest.mark.parametrize("model", ["fused", "cnn", "mlp", "xgboost"])
def test_a_tiny_study_completes_and_writes_its_reports(model, fast_dataset, fast_config, search, tmp_path):
    if model != "xgboost":  # the study's workings need no long training
        settings = fast_config.models[model]
        short = dataclasses.replace(settings.training, epochs=20)
        fast_config = fast_config.with_model(model, dataclasses.replace(settings, training=short))
    result = tune(model, fast_dataset, fast_config, search, StudyOptions(trials=2), out=tmp_path)
    assert result.counts["complete"] + result.counts["pruned"] == 2
    assert 0.0 <= result.best_value <= 1.0 and set(result.best_params) == set(SMALL_SPACES[model])
    directory = tmp_path / model
    trials = pd.read_csv(directory / "trials.csv")
    assert len(trials) == 2
    assert trials.loc[trials["state"] == "COMPLETE", "value"].max() == pytest.approx(result.best_value)
    assert (directory / "optimization_history.png").stat().st_size > 0
    tuned = load_config(directory / "tuned.yaml")
    decision = result.decision
    assert decision.default_trial == 0 and decision.winner_trial == result.best_trial
    assert tuned == (apply(fast_config, model, result.best_params) if decision.adopted else fast_config)
    # The re-trained model's run folder is a normal run folder, scored once on the test split.
    metrics = yaml.safe_load((result.final_run / "metrics.json").read_text())
    assert metrics["macro_f1"] == pytest.approx(result.test_scores["macro_f1"])
    predictions = pd.read_csv(result.final_run / "predictions.csv")
    outer, _ = study_splits(fast_dataset, fast_config, None)
    assert len(predictions) == len(outer.test)
    split = pd.read_csv(result.final_run / "split.csv")
    assert set(split["side"]) == {"train", "test"}
    # Guessing scores a ROC AUC of 0.5; each view alone carries half of the synthetic signal.
    assert result.test_scores["roc_auc_ovr"] > 0.75
    summary = read_record(directory)
    assert summary.kind == "study" and summary.final_run == result.final_run.name
    assert summary.trials["complete"] == result.counts["complete"] and summary.best_params == result.best_params
    assert summary.decision == decision


@pytest.mark.parametrize(
    ("model", "good", "hopeless"),
    [
        ("mlp", {"training.learning_rate": 3e-3, "tabular.width": 32}, {"training.learning_rate": 1e-6}),
        ("xgboost", {"max_depth": 3, "min_child_weight": 1.0}, {"min_child_weight": 1000.0}),
    ],
)
def test_a_hopeless_trial_is_pruned(model, good, hopeless, fast_dataset, fast_config, search, tmp_path):
    storage = tuning.default_storage(tmp_path)
    study = optuna.create_study(study_name=model, storage=storage, direction="maximize")
    study.enqueue_trial(good)
    study.enqueue_trial(hopeless)
    with pytest.warns(UserWarning, match="is out of range for distribution"):  # enqueued from outside the space
        result = tune(
            model, fast_dataset, fast_config, search, StudyOptions(trials=2), storage_url=storage, out=tmp_path
        )
    states = [trial.state for trial in optuna.load_study(study_name=model, storage=storage).trials]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED]
    assert result.counts["pruned"] == 1


def test_a_trial_whose_training_diverges_is_pruned_and_the_study_goes_on(fast_dataset, fast_config, search, tmp_path):
    storage = tuning.default_storage(tmp_path)
    study = optuna.create_study(study_name="mlp", storage=storage, direction="maximize")
    study.enqueue_trial({"training.learning_rate": 10_000.0, "tabular.width": 32})
    study.enqueue_trial({"training.learning_rate": 3e-3, "tabular.width": 32})
    with pytest.warns(UserWarning, match="is out of range for distribution"):  # enqueued from outside the space
        result = tune(
            "mlp", fast_dataset, fast_config, search, StudyOptions(trials=2), storage_url=storage, out=tmp_path
        )
    diverged, good = optuna.load_study(study_name="mlp", storage=storage).trials
    assert diverged.state == TrialState.PRUNED and "mlp diverged at epoch" in diverged.user_attrs["diverged"]
    assert good.state == TrialState.COMPLETE and result.best_params["training.learning_rate"] == 3e-3


def test_a_study_resumes_under_its_name(fast_dataset, fast_config, search, tmp_path):
    storage = tuning.default_storage(tmp_path)
    first = tune(
        "xgboost", fast_dataset, fast_config, search, StudyOptions(trials=2, study_name="resumable"), out=tmp_path
    )
    before = [
        (trial.number, trial.params, trial.value)
        for trial in optuna.load_study(study_name="resumable", storage=storage).trials
    ]
    second = tune(
        "xgboost", fast_dataset, fast_config, search, StudyOptions(trials=2, study_name="resumable"), out=tmp_path
    )
    assert sum(first.counts.values()) == 2 and sum(second.counts.values()) == 4
    trials = optuna.load_study(study_name="resumable", storage=storage).trials
    # A new study starts from the configured model; resuming it does not start over.
    assert trials[0].params == default_values(fast_config, "xgboost", search.spaces["xgboost"])
    assert [trial.params == trials[0].params for trial in trials] == [True, False, False, False]
    # The first session's trials are kept as they were, and the best is taken over both sessions.
    assert [(trial.number, trial.params, trial.value) for trial in trials[:2]] == before
    finished = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    best = max(finished, key=lambda trial: trial.value)
    assert (second.best_trial, second.best_value, second.best_params) == (best.number, best.value, best.params)
    with pytest.raises(
        RunError, match="study 'resumable' in sqlite:///.* was made for other trials: folds: None, now 3"
    ):
        tune(
            "xgboost",
            fast_dataset,
            fast_config,
            search,
            StudyOptions(trials=1, study_name="resumable", folds=3),
            out=tmp_path,
        )


def test_trials_never_see_the_test_split(fast_dataset, fast_config, search, tmp_path, monkeypatch):
    seen = []
    original = objective.train_model

    def spy(name, prepared, split, *args, **kwargs):
        seen.append(split)
        return original(name, prepared, split, *args, **kwargs)

    monkeypatch.setattr(objective, "train_model", spy)
    tune("xgboost", fast_dataset, fast_config, search, StudyOptions(trials=2, folds=3), out=tmp_path)
    outer, _ = study_splits(fast_dataset, fast_config, None)
    assert len(seen) >= 3  # a trial pruned in its first fold trains no further folds
    for split in seen:
        assert not set(outer.test) & (set(split.train) | set(split.validation))
        assert not set(fast_dataset.groups[split.train]) & set(fast_dataset.groups[split.validation])
    trials = optuna.load_study(study_name="xgboost", storage=tuning.default_storage(tmp_path)).trials
    assert all(len(trial.user_attrs["fold_macro_f1"]) == 3 for trial in trials if trial.state == TrialState.COMPLETE)


def test_inner_folds_cover_train_and_validation_once(fast_dataset, fast_config):
    outer, inner = study_splits(fast_dataset, fast_config, 4)
    validated = np.concatenate([split.validation for split in inner])
    assert sorted(validated) == sorted(np.concatenate([outer.train, outer.validation]))


def test_repeated_inner_folds_are_shuffled_anew_and_never_hold_test_rows(fast_dataset, fast_config):
    outer, inner = study_splits(fast_dataset, fast_config, 3, repeats=2)
    assert len(inner) == 6
    for repeat in (inner[:3], inner[3:]):
        validated = np.concatenate([split.validation for split in repeat])
        assert sorted(validated) == sorted(np.concatenate([outer.train, outer.validation]))
        assert not set(outer.test) & set(validated)
    assert not all(np.array_equal(a.validation, b.validation) for a, b in zip(inner[:3], inner[3:], strict=True))


def test_a_trial_records_the_mean_and_spread_over_its_folds(fast_dataset, fast_config, search, tmp_path):
    tune("xgboost", fast_dataset, fast_config, search, StudyOptions(trials=2, folds=2, repeats=2), out=tmp_path)
    trials = optuna.load_study(study_name="xgboost", storage=tuning.default_storage(tmp_path)).trials
    for trial in (trial for trial in trials if trial.state == TrialState.COMPLETE):
        scores = trial.user_attrs["fold_macro_f1"]
        assert len(scores) == 4
        assert trial.value == pytest.approx(np.mean(scores))
        assert trial.user_attrs["std_macro_f1"] == pytest.approx(np.std(scores))
    assert "mean over 2 grouped inner folds, drawn 2 times" in (tmp_path / "xgboost" / "run.json").read_text()


def test_a_study_can_hand_back_its_top_trials_averaged(fast_dataset, fast_config, tmp_path):
    no_pruning = {"type": "none", "startup_trials": 0}
    always = {"rule": "always", "level": 0.05}  # the winner, so that its final model is the top trials'
    search_file = small_search_file(tmp_path / "search.yaml", final={"top_k": 2}, pruner=no_pruning, decision=always)
    search = load_search(fast_config, search_file)
    settings = fast_config.models["mlp"]
    config = fast_config.with_model(
        "mlp", dataclasses.replace(settings, training=dataclasses.replace(settings.training, epochs=30))
    )
    result = tune("mlp", fast_dataset, config, search, StudyOptions(trials=3), out=tmp_path)
    record = read_record(result.final_run)
    assert len(record.training.members) == 2  # the two best trials, each re-trained
    owner, model = load_saved(family("mlp"), result.final_run)
    assert owner.inner is family("mlp") and len(model.members) == 2
    assert result.test_scores["macro_f1"] > 0.2  # chance: 0.1; the synthetic features carry half the answer


def test_outer_folds_test_the_decision_beside_the_configured_settings_refitted_alike(synthetic_root, tmp_path, capsys):
    """The configured settings go through the same re-train as the winner, so the table's difference
    measures tuning alone; with rule 'always' the decision is the winner, wherever one beat them."""
    no_pruning = {"type": "none", "startup_trials": 0}
    always = {"rule": "always", "level": 0.05}
    search_file = small_search_file(tmp_path / "search.yaml", decision=always, pruner=no_pruning)
    config = yaml.safe_load(FAST_CONFIG.read_text())
    config["models"]["xgboost"].update(max_depth=2, min_child_weight=4.0)  # weak settings, which trials beat
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    args = ["tune", "--model", "xgboost", "--trials", "4", "--outer-folds", "2", "--data", str(synthetic_root)]
    assert (
        main([*args, "--config", str(tmp_path / "config.yaml"), "--search", str(search_file), "--out", str(tmp_path)])
        == 0
    )
    printed = " ".join(capsys.readouterr().out.split())
    table = pd.read_csv(tmp_path / "xgboost" / "outer_folds.csv")
    assert table["fold"].tolist() == [1, 2]
    difference = table["tuned_macro_f1"].mean() - table["untuned_macro_f1"].mean()
    assert f"xgboost over 2 outer folds. Tuned minus configured: {difference:+.3f} macro-F1" in printed
    first = table.iloc[0]
    fold_line = f"1 {first.untuned_macro_f1:.3f} {first.tuned_macro_f1:.3f} {first.winner_macro_f1:.3f} {first.kept}"
    assert "fold configured decision winner kept " + fold_line in printed
    summary = (tmp_path / "xgboost" / "outer_folds.md").read_text()
    assert f"Tuned minus configured: {difference:+.3f} macro-F1" in summary and "always taken" in summary
    for row in table.itertuples():
        directory = tmp_path / "xgboost" / f"outer{row.fold}"
        final = next(directory.glob("*-final"))
        assert read_record(final).metrics["macro_f1"] == pytest.approx(row.tuned_macro_f1)
        assert row.tuned_macro_f1 == pytest.approx(row.winner_macro_f1)  # rule 'always'
        storage = tuning.default_storage(tmp_path / "xgboost")
        study = optuna.load_study(study_name=f"xgboost-outer{row.fold}", storage=storage)
        if row.winner_trial == 0:  # the configured settings won: nothing else to re-train
            assert row.untuned_macro_f1 == row.tuned_macro_f1 and not list(directory.glob("*-default"))
            continue
        configured = next(directory.glob("*-default"))
        assert read_record(configured).metrics["macro_f1"] == pytest.approx(row.untuned_macro_f1)
        sides = [pd.read_csv(run / "split.csv") for run in (final, configured)]
        pd.testing.assert_frame_equal(sides[0], sides[1])  # the same rows, the same re-train
        kept = np.median(np.atleast_2d(study.trials[0].user_attrs["kept"]), axis=0)
        assert read_record(configured).training.ran == int(kept[0])
    assert (table["winner_trial"] > 0).any()  # the test saw a winner other than the configured settings
    # The report of the studies' folder says the same, and shows each fold's study and its decision.
    assert main(["report", str(tmp_path / "xgboost"), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.md").read_text()
    assert f"Tuned minus configured: {difference:+.3f} macro-F1" in page
    assert "## Tuning study: xgboost-outer1" in page and "## Tuning study: xgboost-outer2" in page


def bag_config(folder: Path, subsets: str, members: int = 3) -> Path:
    """The demo config with the MLP bagged; written in the key every version reads (the old
    ``training.ensemble``), so that these tests also run against versions before bagging wrapped
    every family, where they fail."""
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    training = settings["models"]["mlp"]["training"]  # shared with the other networks through a YAML anchor
    settings["models"]["mlp"]["training"] = {
        **training,
        "epochs": 20,
        "ensemble": {"members": members, "subsets": subsets},
    }
    path = folder / f"mlp-{subsets}.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_a_fold_bagged_trial_is_scored_on_rows_none_of_its_members_trained_on(synthetic_root, search_file, tmp_path):
    """Its value is the mean macro-F1 of each member's out-of-fold predictions (of the fold it held
    out, neither trained nor stopped on), not of the validation rows that most of its members trained on."""
    common = ["--model", "mlp", "--data", str(synthetic_root), "--config", str(bag_config(tmp_path, "folds"))]
    assert main(["train", *common, "--out", str(tmp_path / "bag")]) == 0
    held_out = pd.read_csv(tmp_path / "bag" / "out_of_fold.csv")
    expected = np.mean(
        [
            f1_score(part["true_genre"], part["predicted_genre"], average="macro")
            for _, part in held_out.groupby("member")
        ]
    )
    tuning_dir = tmp_path / "tuning"
    assert main(["tune", *common, "--trials", "1", "--search", str(search_file), "--out", str(tuning_dir)]) == 0
    (trial,) = optuna.load_study(study_name="mlp", storage=tuning.default_storage(tuning_dir)).trials
    assert trial.params == {"training.learning_rate": 0.003, "tabular.width": 32}  # the configured model's
    assert trial.value == pytest.approx(expected)


def test_a_study_is_never_resumed_on_other_rows(synthetic_root, search_file, tmp_path, capsys):
    """The outer split decides a study's rows: outer fold 1 of 2 holds tracks that outer fold 1 of 3
    tested on, so its study is not the same study."""
    arguments = [
        "tune", "--model", "xgboost", "--trials", "1", "--data", str(synthetic_root), "--config", str(FAST_CONFIG),
        "--search", str(search_file), "--out", str(tmp_path),
    ]  # fmt: skip
    assert main([*arguments, "--outer-folds", "3"]) == 0
    capsys.readouterr()
    assert main([*arguments, "--outer-folds", "2"]) == 2
    error = one_error(capsys.readouterr().err)  # after the warning about the track without image
    assert error.startswith("multimodal-genre: error: study 'xgboost-outer1'")
    assert "outer: outer fold 1 of 3, now outer fold 1 of 2" in error


def test_a_retrained_bag_trains_each_member_as_long_as_it_kept(synthetic_root, search_file, tmp_path):
    """A seed bag's members re-train on train + validation, with no validation side to stop on, for
    as long as each kept in the trial, not for the sum of their lengths."""
    config = bag_config(tmp_path, "seeds", members=2)
    arguments = ["tune", "--model", "mlp", "--trials", "1", "--data", str(synthetic_root), "--config", str(config)]
    assert main([*arguments, "--search", str(search_file), "--out", str(tmp_path)]) == 0
    (trial,) = optuna.load_study(study_name="mlp", storage=tuning.default_storage(tmp_path)).trials
    kept = np.median(np.atleast_2d(trial.user_attrs["kept"]), axis=0)  # per member, over the trial's folds
    final = next((tmp_path / "mlp").glob("*-final"))
    members = json.loads((final / "run.json").read_text())["training"]["members"]
    assert [member["ran"] for member in members] == [int(length) for length in kept]


def test_the_command_prints_a_line_per_trial_and_a_summary(synthetic_root, search_file, tmp_path, capsys):
    args = ["tune", "--model", "xgboost", "--trials", "2", "--data", str(synthetic_root), "--config", str(FAST_CONFIG)]
    assert main([*args, "--search", str(search_file), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "xgboost trial 0: validation macro-F1" in printed and "xgboost trial 1: " in printed
    assert "; 2/2 trials, 0:" in " ".join(printed.split())  # the count and estimate end each trial's line
    ending = printed[printed.index("Study 'xgboost':") :].splitlines()
    folded = [line for line in printed.splitlines() if str(tmp_path) not in line]  # a path is never broken
    assert max(map(len, folded)) <= 80 and "trials/hour" not in printed
    assert ending[1] == "Held-out macro-F1 (the validation split):"
    assert ending[2].startswith("  configured settings (trial 0)  ") and ending[4].startswith("  winner - configured")
    assert "90% interval" in ending[4] and ending[5].startswith("Decision: kept the configured settings")
    assert "tested once: test macro-F1" in " ".join(ending)
    assert (tmp_path / "studies.db").is_file() and (tmp_path / "xgboost" / "tuned.yaml").is_file()


@pytest.mark.parametrize("verbose", [False, True])
def test_a_network_study_prints_its_epochs_only_when_asked(verbose, synthetic_root, search_file, tmp_path, capsys):
    args = ["tune", "--model", "mlp", "--trials", "1", "--data", str(synthetic_root), "--config", str(FAST_CONFIG)]
    assert main([*args, "--search", str(search_file), "--out", str(tmp_path), *(["--verbose"] if verbose else [])]) == 0
    printed = capsys.readouterr().out
    assert ("mlp epoch 1/" in printed) is verbose and "Decision: " in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "mlp"], "tune needs --trials N or --timeout SECONDS"),
        (["--model", "mlp", "--trials", "0"], "--trials must be at least 1, got 0"),
        (["--model", "mlp", "--trials", "1", "--study-name", "../up"], "--study-name must be letters, digits"),
        (["--model", "mlp", "--trials", "1", "--repeats", "2"], "--repeats must be at least 1, and needs folds"),
        (["--model", "mlp", "--trials", "1", "--outer-folds", "1"], "--outer-folds must be at least 2"),
        (
            ["--model", "fused", "--trials", "1", "--folds", "3", "--config", str(FAST_CONFIG.parent / "stacked.yaml")],
            "--folds: models.fused is fold-bagged",
        ),
        (
            ["--model", "mlp", "--trials", "1", "--storage", "nosuchdb://x"],
            "nosuchdb://x: cannot open the study storage",
        ),
        (
            ["--model", "mlp", "--trials", "1", "--storage", "postgresql://nobody:secret@127.0.0.1:9/none"],
            "postgresql://nobody:***@127.0.0.1:9/none: cannot open the study storage",
        ),
    ],
)
def test_bad_tune_options_are_one_line_errors(args, message, synthetic_root, tmp_path, capsys):
    assert main(["tune", *args, "--data", str(synthetic_root), "--out", str(tmp_path)]) == 2
    stderr = capsys.readouterr().err
    error = one_error(stderr)
    assert error.startswith("multimodal-genre: error: ") and message in error
    assert "secret" not in stderr and "Traceback" not in stderr


def tune_command(root, search_file, storage, name, trials, out):
    return [
        sys.executable, "-m", "multimodal_genre", "tune", "--model", "mlp", "--trials", str(trials),
        "--data", str(root), "--config", str(FAST_CONFIG), "--search", str(search_file),
        "--storage", storage, "--study-name", name, "--out", str(out),
    ]  # fmt: skip


def test_a_killed_worker_loses_no_finished_trial(synthetic_root, search_file, tmp_path):
    storage = tuning.default_storage(tmp_path)
    worker = subprocess.Popen(
        tune_command(synthetic_root, search_file, storage, "killed", 50, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                trials = optuna.load_study(study_name="killed", storage=storage).trials
            except KeyError:
                continue
            states = [trial.state for trial in trials]
            # Killed mid-trial: running, with its settings drawn (a trial is stored running just before).
            if TrialState.COMPLETE in states and states[-1] == TrialState.RUNNING and trials[-1].params:
                worker.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail("the worker never had a trial running after a finished one")
    finally:
        worker.kill()
        worker.wait()
    before = optuna.load_study(study_name="killed", storage=storage).trials
    finished = {trial.number: trial.value for trial in before if trial.state == TrialState.COMPLETE}
    killed = before[-1].number
    time.sleep(3)  # past the grace period: the killed worker's trial is stale

    assert main(tune_command(synthetic_root, search_file, storage, "killed", 1, tmp_path)[3:]) == 0
    after = optuna.load_study(study_name="killed", storage=storage).trials
    assert {t.number: t.value for t in after if t.number in finished} == finished
    assert all(after[number].state == TrialState.COMPLETE for number in finished)
    assert after[killed].state == TrialState.FAIL
    retried = [trial for trial in after if trial.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1 and retried[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retried[0].params == after[killed].params


@pytest.fixture
def postgres_url():
    """A new, empty database on the server .ci/run starts (workers then also race to create the
    study tables, as on a first run), or the given database where the user may not create one."""
    server = required_by_ci("MULTIMODAL_GENRE_TEST_POSTGRES", "a PostgreSQL URL; .ci/run starts a server")
    database = f"multimodal_genre_test_{os.getpid()}_{time.time_ns()}"
    try:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
    except psycopg.errors.InsufficientPrivilege:
        yield server
        return
    yield make_url(server).set(database=database).render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{database}" WITH (FORCE)')


def test_two_workers_share_one_postgresql_study(synthetic_root, search_file, tmp_path, postgres_url):
    name = "shared"
    workers = [
        subprocess.Popen(
            tune_command(synthetic_root, search_file, postgres_url, name, 3, tmp_path / f"worker{index}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for index in (1, 2)
    ]
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    storage = optuna.storages.RDBStorage(postgres_url)
    try:
        trials = optuna.load_study(study_name=name, storage=storage).trials
    finally:
        storage.engine.dispose()  # close the pooled connections before the database is dropped
    assert len(trials) == 6
    assert all(trial.state in (TrialState.COMPLETE, TrialState.PRUNED) for trial in trials)
    for output in outputs:
        assert output.count(f"{name} trial ") == 3
    # The workers sample apart (at most the configured first trial may run twice, when both start it).
    assert len({tuple(sorted(trial.params.items())) for trial in trials}) >= 5


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port, which a test may stop and start."""

    def __init__(self, folder: Path) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("CI must provide PostgreSQL's server programs (.ci/run installs them)")
            pytest.skip("PostgreSQL's server programs are not installed")
        self.bin, self.folder = found[-1].parent, folder
        self.port = free_port()
        self.owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # the server refuses root
        if self.owner:
            shutil.chown(folder, "postgres")
        self.run("initdb", "-D", str(folder / "data"), "-U", "optuna", "-A", "trust")
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "optuna", "optuna")
        self.url = f"postgresql://optuna@127.0.0.1:{self.port}/optuna"

    def run(self, program: str, *arguments: str) -> None:
        subprocess.run([*self.owner, str(self.bin / program), *arguments], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        self.run(
            "pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w", "-o", options, "start"
        )

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")


@pytest.fixture
def postgres_server():
    """Outside pytest's folders, which only their owner may enter: the server runs as another user."""
    folder = Path(tempfile.mkdtemp(prefix="multimodal-genre-test-pg-"))
    server = PostgresServer(folder)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def finished(storage: str, name: str) -> list[int]:
    """The study's complete and pruned trials."""
    try:
        connected = optuna.storages.RDBStorage(storage)
    except sqlalchemy.exc.SQLAlchemyError:  # the server is down
        return []
    try:
        trials = optuna.load_study(study_name=name, storage=connected).trials
    except (KeyError, sqlalchemy.exc.SQLAlchemyError):  # not made yet, or the server went down
        return []
    finally:
        connected.engine.dispose()  # no connection left open for the garbage collector to find
    return [trial.number for trial in trials if trial.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_a_study_survives_its_postgresql_server_restarting(synthetic_root, search_file, tmp_path, postgres_server):
    """The server stops for 3 s in the middle of a study: the worker goes on, or stops with one line;
    either way no finished trial is lost, and the same command finishes the study."""
    storage = postgres_server.url
    command = tune_command(synthetic_root, search_file, storage, "restarted", 6, tmp_path)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as worker:
        deadline = time.monotonic() + 240
        while not (before := finished(storage, "restarted")):
            assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()
            time.sleep(0.2)
        postgres_server.stop()
        time.sleep(3)
        postgres_server.start()
        _, stderr = worker.communicate(timeout=300)
    assert "Traceback" not in stderr
    if worker.returncode != 0:  # the restart caught a write in flight
        assert worker.returncode == 2
        assert one_error(stderr).endswith("the finished trials are saved there: run the same command again to go on")
    assert set(before) <= set(finished(storage, "restarted"))
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = finished(storage, "restarted")
    assert set(before) <= set(after) and len(after) >= 6


def test_a_heartbeat_that_loses_the_storage_ends_quietly_and_other_thread_errors_still_show(monkeypatch):
    """Optuna beats a trial's heartbeat in a thread of its own; a restarting server must not print its traceback."""
    reported = []
    monkeypatch.setattr(threading, "excepthook", reported.append)
    refused = sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
    lost = optuna.exceptions.StorageInternalError("an exception is raised during the commit")
    lost.__cause__ = refused

    def fail(error: Exception) -> None:
        raise error

    with stopping_on_lost_storage("postgresql://optuna@127.0.0.1:1/optuna"):
        for error in (lost, ValueError("a real bug")):
            thread = threading.Thread(target=fail, args=(error,))
            thread.start()
            thread.join()
    assert [type(args.exc_value) for args in reported] == [ValueError]
    assert threading.excepthook == reported.append


def test_optunas_fallback_warning_on_a_lost_storage_is_left_to_the_one_line():
    """Reading a lost storage's trials, Optuna warns that it falls back to a slower query (which meets
    the same loss); inside a study that line is the command's one error, so the warning is dropped."""
    logger = logging.getLogger("optuna.storages._rdb.storage")
    handler = logging.handlers.BufferingHandler(10)
    logger.addHandler(handler)
    try:
        with stopping_on_lost_storage("postgresql://optuna@127.0.0.1:1/optuna"):
            logger.warning("Caught an error from sqlalchemy: terminating connection. Falling back.")
            logger.warning("another warning")
        logger.warning("Caught an error from sqlalchemy: outside a study")
    finally:
        logger.removeHandler(handler)
    assert [record.getMessage() for record in handler.buffer] == [
        "another warning",
        "Caught an error from sqlalchemy: outside a study",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_json(url: str, seconds: float = 60) -> dict:
    """``url``'s JSON, tried until the server answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return json.load(answer)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_optuna_dashboard_reads_a_finished_study_back_over_http(synthetic_root, search_file, tmp_path):
    args = ["tune", "--model", "xgboost", "--trials", "3", "--data", str(synthetic_root), "--config", str(FAST_CONFIG)]
    assert main([*args, "--search", str(search_file), "--out", str(tmp_path)]) == 0
    storage = tuning.default_storage(tmp_path)
    trials = optuna.load_study(study_name="xgboost", storage=storage).trials
    port = free_port()
    dashboard = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    command = [dashboard, storage, "--host", "127.0.0.1", "--port", str(port), "--quiet"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as server:
        try:
            studies = read_json(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]
            assert [study["study_name"] for study in studies] == ["xgboost"]
            detail = read_json(f"http://127.0.0.1:{port}/api/studies/{studies[0]['study_id']}")
        finally:
            server.terminate()
    served = {trial["number"]: (trial["state"], trial["values"]) for trial in detail["trials"]}
    assert served == {trial.number: (trial.state.name.capitalize(), trial.values) for trial in trials}
    assert {param["name"] for param in detail["trials"][0]["params"]} == set(trials[0].params)
