"""Finished runs shown in MLflow, made from the package's run folders.

The run folder stays the record (``records.py``); MLflow gets a copy for the tools people already
compare experiments in. A model run becomes an MLflow run: its resolved config as parameters (dotted
keys), every column of its history as a per-epoch (per-round) metric, its test metrics, and the
folder as artifacts. A comparison is a parent run with a child per model and fold; a study is a
parent run with a child per trial and one for the re-trained final model (optuna-integration's
``MLflowCallback`` would log trials alike, but it is deprecated since 4.9 and leaves in 6.0). The
runs are made from finished folders once a command ends, so a resumed comparison is tracked whole
and a cluster's workers need no way to the tracking server.

The tracking URI is MLflow's own choice: ``MLFLOW_TRACKING_URI``, else a local store.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from multimodal_genre.config import config_dict, load_run_config
from multimodal_genre.errors import ConfigError
from multimodal_genre.records import CONFIG_FILE, RUN_FILE, ComparisonRecord, ModelRecord, StudyRecord, read_record

if TYPE_CHECKING:
    import optuna

EXPERIMENT = "multimodal-genre"  # unless MLFLOW_EXPERIMENT_NAME names another


def check_installed(tracker: str) -> None:
    """A ConfigError naming the install command where ``tracker`` (mlflow, tensorboard, also the
    package's name and its extra) is missing, before any training."""
    if importlib.util.find_spec(tracker) is None:
        raise ConfigError(f"--track {tracker} needs {tracker}: pip install 'multimodal-genre[{tracker}]'")


def tracking_uri() -> str:
    """Where MLflow keeps the runs, for the command's last line."""
    import mlflow

    return mlflow.get_tracking_uri()


def track_model_run(directory: Path) -> str:
    """``directory`` (a model run folder) as one MLflow run; returns its id."""
    import mlflow

    with _tracking(), mlflow.start_run(run_name=directory.name) as run:
        _log_model_run(directory)
    return run.info.run_id


def track_comparison(directory: Path) -> str:
    """The comparison in ``directory`` as a parent run (its tables as artifacts, each model's mean test
    figures as metrics) with a child run per model run folder; returns the parent's id."""
    import mlflow

    record = read_record(directory)
    if not isinstance(record, ComparisonRecord):
        raise ConfigError(f"{directory}: not a comparison")
    with _tracking(), mlflow.start_run(run_name=directory.name) as parent:
        mlflow.log_params({"models": ",".join(record.models), "folds": record.folds or "hold-out"})
        mlflow.set_tags({"kind": "comparison", "command": record.command or ""})
        folds = pd.read_csv(directory / "folds.csv") if record.folds else None
        if folds is not None:
            means = folds.drop(columns="fold").groupby("model").mean(numeric_only=True)
            mean = {f"{model}.{key}": value for model, row in means.iterrows() for key, value in row.items()}
            mlflow.log_metrics(mean)
        for table in sorted(directory.iterdir()):
            if table.is_file() and not table.name.startswith("."):  # not the command's lock
                mlflow.log_artifact(str(table))
        for run_file in sorted(directory.glob(f"**/{RUN_FILE}")):
            if run_file.parent != directory:
                with mlflow.start_run(run_name=_run_name(run_file.parent, directory), nested=True):
                    _log_model_run(run_file.parent)
    return parent.info.run_id


def track_study(study: optuna.Study, directory: Path) -> str:
    """The study whose reports are in ``directory``, as it stands, as a parent run: a child run per
    finished trial (its settings, its objective value, its state) and one for the final model's run
    folder; returns the parent's id."""
    import mlflow
    from optuna.trial import TrialState

    record = read_record(directory)
    if not isinstance(record, StudyRecord):
        raise ConfigError(f"{directory}: not a study")
    with _tracking(), mlflow.start_run(run_name=f"study {record.study}") as parent:
        mlflow.set_tags({"kind": "study", "model": record.model, "objective": record.objective})
        mlflow.log_params({f"best.{name}": value for name, value in record.best_params.items()})
        mlflow.log_metrics({f"test_{name}": value for name, value in record.test.items()})
        for trial in study.trials:
            if trial.state.is_finished():
                with mlflow.start_run(run_name=str(trial.number), nested=True):
                    mlflow.log_params(trial.params)
                    mlflow.set_tags({"kind": "trial", "state": trial.state.name.lower()})
                    if trial.state == TrialState.COMPLETE:  # a pruned trial's value is a step's, not the objective
                        mlflow.log_metric("validation_macro_f1", trial.value)
        mlflow.log_artifact(str(directory / RUN_FILE))
        with mlflow.start_run(run_name=record.final_run, nested=True):
            _log_model_run(directory / record.final_run)
    return parent.info.run_id


@contextlib.contextmanager
def _tracking() -> Iterator[None]:
    """MLflow set to the experiment, without its own output: a line per run it ends (written straight
    to standard output) and its notes on making the experiment; the command says where the runs are."""
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()):
        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT))
        yield


def _log_model_run(directory: Path) -> None:
    """The active MLflow run gets the model run in ``directory``: config, history, test figures, files."""
    import mlflow

    record = read_record(directory)
    if not isinstance(record, ModelRecord):
        raise ConfigError(f"{directory}: not a model run")
    config = config_dict(load_run_config(directory / CONFIG_FILE))
    mine = {key: config[key] for key in config if key != "models"} | {"model": config["models"][record.model]}
    mlflow.log_params(_flat(mine))
    mlflow.set_tags({"kind": "model", "model": record.model, "split": record.split.kind, "fold": record.split.fold})
    for step, metrics in _history_metrics(pd.read_csv(directory / "history.csv")):
        mlflow.log_metrics(metrics, step=step)
    mlflow.log_metrics({f"test_{name}": value for name, value in record.metrics.items()})
    mlflow.log_metric("training_seconds", record.training.seconds)
    mlflow.log_artifacts(str(directory))


def _history_metrics(history: pd.DataFrame) -> list[tuple[int, dict[str, float]]]:
    """(step, metrics) per row of a history: the family's unit is the step; a bag's columns
    are named by member (``member2.loss``)."""
    unit = history.columns[0]
    steps = []
    for _, row in history.iterrows():
        prefix = f"member{int(row['member'])}." if "member" in history.columns else ""
        values = {f"{prefix}{key}": float(value) for key, value in row.items() if key not in (unit, "member")}
        steps.append((int(row[unit]), values))
    return steps


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as ``a.b.c: value`` strings, MLflow's parameters."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= _flat(value, f"{name}.")
        else:
            flat[name] = json.dumps(value) if isinstance(value, (list, bool)) or value is None else str(value)
    return flat


def _run_name(folder: Path, comparison: Path) -> str:
    """``mlp fold1`` for ``<comparison>/fold1/mlp``, ``mlp`` for a hold-out comparison's ``<comparison>/mlp``."""
    parts = folder.relative_to(comparison).parts
    return " ".join([parts[-1], *parts[:-1]])
