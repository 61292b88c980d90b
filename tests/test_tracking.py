"""Finished runs logged to a real MLflow tracking server (SQLite backend) on a loopback port, and read
back with MLflow's client: a comparison as a parent run with a child per model and fold, a study as a
parent run with a child per trial and one for its final model."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from multimodal_genre.cli import main

from conftest import FAST_CONFIG, one_error


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    command = [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder)]
    command += ["--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as server:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "the MLflow server did not start in 120 s"
                time.sleep(0.5)
        try:
            yield url
        finally:
            server.terminate()


@pytest.fixture
def tracked(tracking_server, monkeypatch, request) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", request.node.name)
    return MlflowClient(tracking_server)


def runs_of(client: MlflowClient, experiment: str, where: str = "") -> list:
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], filter_string=where)


def test_a_comparison_is_a_parent_run_with_a_child_per_model_and_fold(tracked, synthetic_root, tmp_path, request):
    out = tmp_path / "compare"
    arguments = ["compare", "--folds", "2", "--models", "mlp", "xgboost", "--data", str(synthetic_root)]
    assert main([*arguments, "--config", str(FAST_CONFIG), "--out", str(out), "--track", "mlflow"]) == 0

    (parent,) = runs_of(tracked, request.node.name, "tags.kind = 'comparison'")
    children = runs_of(tracked, request.node.name, f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(child.info.run_name for child in children) == [
        "mlp fold1",
        "mlp fold2",
        "xgboost fold1",
        "xgboost fold2",
    ]
    assert parent.data.params == {"models": "mlp,xgboost", "folds": "2"}
    tables = {item.path for item in tracked.list_artifacts(parent.info.run_id)}
    assert {"comparison.md", "folds.csv", "run.json"} <= tables and ".lock" not in tables
    folds = pd.read_csv(out / "folds.csv")
    assert parent.data.metrics["mlp.macro_f1"] == pytest.approx(folds[folds.model == "mlp"].macro_f1.mean())

    mlp = next(child for child in children if child.info.run_name == "mlp fold1")
    assert mlp.data.params["model.training.learning_rate"] == "0.003"
    assert mlp.data.params["split.seed"] == "42" and mlp.data.tags["model"] == "mlp"
    saved = json.loads((out / "fold1" / "mlp" / "metrics.json").read_text())
    assert mlp.data.metrics["test_macro_f1"] == pytest.approx(saved["macro_f1"])
    history = pd.read_csv(out / "fold1" / "mlp" / "history.csv")
    losses = tracked.get_metric_history(mlp.info.run_id, "loss")
    assert [point.step for point in losses] == history["epoch"].tolist()
    assert [point.value for point in losses] == pytest.approx(history["loss"].tolist())
    files = {item.path for item in tracked.list_artifacts(mlp.info.run_id)}
    assert {"run.json", "model.keras", "history.csv", "confusion_matrix.png"} <= files


def test_a_study_is_a_parent_run_with_a_child_per_trial_and_its_final_model(tracked, synthetic_root, tmp_path, request):
    from test_tuning import small_search_file

    search = small_search_file(tmp_path / "search.yaml")
    arguments = [
        "tune",
        "--model",
        "xgboost",
        "--trials",
        "2",
        "--data",
        str(synthetic_root),
        "--config",
        str(FAST_CONFIG),
    ]
    assert main([*arguments, "--search", str(search), "--out", str(tmp_path), "--track", "mlflow"]) == 0

    (parent,) = runs_of(tracked, request.node.name, "tags.kind = 'study'")
    children = runs_of(tracked, request.node.name, f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    trials = [child for child in children if child.info.run_name in {"0", "1"}]
    assert len(trials) == 2 and len(children) == 3  # two trials and the re-trained final model
    assert all("max_depth" in trial.data.params for trial in trials)
    for trial in trials:  # a pruned trial has no value
        assert ("validation_macro_f1" in trial.data.metrics) == (trial.data.tags["state"] == "complete")
    final = next(child for child in children if child not in trials)
    assert final.info.run_name.endswith("-final") and "test_macro_f1" in final.data.metrics
    assert parent.data.metrics["test_macro_f1"] == pytest.approx(final.data.metrics["test_macro_f1"])


def epoch_values(folder: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of ``tag`` in the event files under ``folder``, read as TensorBoard reads them."""
    import tensorflow as tf

    points = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    points.append((event.step, float(tf.make_ndarray(value.tensor))))
    return points


def test_tensorboard_logs_are_keras_own_in_each_network_run_folder(synthetic_root, tmp_path):
    out = tmp_path / "compare"
    arguments = ["compare", "--models", "mlp", "xgboost", "--data", str(synthetic_root), "--config", str(FAST_CONFIG)]
    assert main([*arguments, "--out", str(out), "--track", "tensorboard"]) == 0
    history = pd.read_csv(out / "mlp" / "history.csv")
    for side, column in (("train", "loss"), ("validation", "val_loss")):
        points = epoch_values(out / "mlp" / "tensorboard" / side, "epoch_loss")
        assert [step for step, _ in points] == (history["epoch"] - 1).tolist()  # Keras counts from 0
        assert [value for _, value in points] == pytest.approx(history[column].tolist(), rel=1e-5)
    assert not (out / "xgboost" / "tensorboard").exists()  # XGBoost has no TensorBoard writer


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--track", "tensorboard"], "--track tensorboard: for train and compare"),
        (["--track", "mlflow", "--outer-folds", "2"], "--track: studies over outer folds are not tracked yet"),
    ],
)
def test_a_study_refuses_what_it_cannot_track_before_training(extra, message, synthetic_root, tmp_path, capsys):
    arguments = ["tune", "--model", "xgboost", "--trials", "1", "--data", str(synthetic_root), "--out", str(tmp_path)]
    assert main([*arguments, *extra]) == 2
    assert one_error(capsys.readouterr().err).startswith(f"multimodal-genre: error: {message}")
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written
