"""Parallel trainings: local worker processes and a Dask cluster give a serial run's figures."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml

from multimodal_genre import progress
from multimodal_genre import workers as workers_module
from multimodal_genre.comparison import run_comparison
from multimodal_genre.config import Config, config_dict
from multimodal_genre.data import GenreDataset
from multimodal_genre.errors import ConfigError, RunError
from multimodal_genre.records import read_record
from multimodal_genre.workers import Workers

# Two busy workers on two cores may delay a heartbeat by seconds; no trial here should be taken for dead.
SLOW_HEARTBEATS = {"heartbeat_seconds": 5, "grace_seconds": 120, "retries": 1}
MODELS = ["cnn", "xgboost"]  # the convolutions are what thread counts change; trees stand for the rest


@pytest.fixture(scope="module")
def short_config(fast_config: Config) -> Config:
    cnn = fast_config.models["cnn"]
    return fast_config.with_model("cnn", dataclasses.replace(cnn, training=dataclasses.replace(cnn.training, epochs=8)))


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory, fast_dataset: GenreDataset, short_config: Config) -> Path:
    """The comparison trained one model at a time, with one thread per training."""
    out = tmp_path_factory.mktemp("serial") / "compare"
    with Workers(jobs=1, threads=1) as workers:
        run_comparison(fast_dataset, short_config, out, models=MODELS, folds=2, workers=workers)
    return out


def test_jobs_give_the_serial_figures(
    serial: Path, fast_dataset: GenreDataset, short_config: Config, tmp_path: Path
) -> None:
    with Workers(jobs=2, threads=1) as workers:
        assert workers.where == "2 worker processes, 1 thread(s) each"
        result = run_comparison(
            fast_dataset, short_config, tmp_path / "compare", models=MODELS, folds=2, workers=workers
        )
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "compare" / "folds.csv"), pd.read_csv(serial / "folds.csv"))
    assert list(result.scores["model"]) == MODELS * 2  # rows in fold and model order, however trainings ended
    for fold in (1, 2):
        for name in MODELS:
            run = tmp_path / "compare" / f"fold{fold}" / name
            assert read_record(run).training.threads == 1
            assert (run / "predictions.csv").read_bytes() == (
                serial / f"fold{fold}" / name / "predictions.csv"
            ).read_bytes()
    assert not list((tmp_path / "compare").rglob(".*.partial"))


def test_a_dask_cluster_runs_the_comparison(serial: Path, synthetic_root: Path, short_config: Config, tmp_path: Path):
    """A scheduler and two one-thread workers started as the README says, and `compare --cluster`: every
    run folder comes back whole, with the serial run's figures and predictions."""
    config = tmp_path / "short.yaml"
    config.write_text(yaml.safe_dump(config_dict(short_config)))
    with dask_cluster(tmp_path, workers=2) as address:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "multimodal_genre",
                "compare",
                "--data",
                str(synthetic_root),
                "--config",
                str(config),
            ]
            + ["--models", *MODELS, "--folds", "2", "--cluster", address, "--out", str(tmp_path / "compare")],
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr
    first = f"Training on the Dask cluster at {address}, 1 thread(s) per training: networks on cpu:0"
    assert first in " ".join(done.stdout.split())  # folded at 80 columns
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "compare" / "folds.csv"), pd.read_csv(serial / "folds.csv"))
    for run in serial.glob("fold*/*"):
        returned = tmp_path / "compare" / run.relative_to(serial)
        assert sorted(path.name for path in returned.iterdir()) == sorted(path.name for path in run.iterdir())
        assert (returned / "predictions.csv").read_bytes() == (run / "predictions.csv").read_bytes()


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker`` processes on loopback; yields the scheduler's address."""
    scheduler_file = folder / "scheduler.json"
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
            ]
            + ["--scheduler-file", str(scheduler_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        if workers:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "distributed.cli.dask_worker",
                        "--scheduler-file",
                        str(scheduler_file),
                        "--nworkers",
                        str(workers),
                    ]
                    + ["--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            if workers:
                client.wait_for_workers(workers, timeout=60)
            address = client.scheduler.address
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jobs": 0}, "jobs must be at least 1, got 0"),
        ({"threads": 0}, "threads must be at least 1, got 0"),
        ({"jobs": 2, "cluster": "tcp://127.0.0.1:1"}, "jobs cannot be given with a cluster"),
    ],
)
def test_bad_worker_settings_are_refused_when_made(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Workers(**options)


def test_an_unreachable_cluster_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_module, "CONNECT_SECONDS", 1)
    with pytest.raises(RunError, match=r"tcp://127.0.0.1:9: cannot reach the Dask scheduler"):
        with Workers(cluster="tcp://127.0.0.1:9"):
            pass


def test_a_cluster_without_workers_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_module, "WORKER_WAIT_SECONDS", 1)
    with dask_cluster(tmp_path, workers=0) as address:
        with pytest.raises(RunError, match=rf"{address}: the Dask scheduler has no workers after 1 s"):
            with Workers(cluster=address):
                pass


def test_the_command_line_words_worker_options(synthetic_root: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "multimodal_genre", "compare", "--data", str(synthetic_root), "--jobs", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["multimodal-genre: error: --jobs must be at least 1, got 0"]


def test_a_study_shares_its_trials_among_worker_processes(
    fast_dataset: GenreDataset, fast_config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    from test_tuning import small_search_file

    from multimodal_genre.search import load_search
    from multimodal_genre.tuning import StudyOptions, default_storage, tune

    search = load_search(fast_config, small_search_file(tmp_path / "search.yaml", storage=SLOW_HEARTBEATS))
    storage = default_storage(tmp_path)
    with caplog.at_level("INFO", logger="multimodal_genre"), progress.job(5, "trial"):
        with Workers(jobs=2, threads=1) as workers:
            result = tune(
                "mlp",
                fast_dataset,
                fast_config,
                search,
                StudyOptions(trials=5),
                storage_url=storage,
                out=tmp_path,
                workers=workers,
            )
    trials = optuna.load_study(study_name="mlp", storage=storage).trials
    # The trials finish in the workers; the command reads them off the storage for the job's estimate.
    followed = [record.getMessage() for record in caplog.records if " done: " in record.getMessage()]
    assert len(followed) == 5 and followed[-1].split(" done: ")[1].startswith("5/5 trials")
    assert len(trials) == 5 and result.counts["complete"] + result.counts["pruned"] == 5
    # Each worker process samples from its own seed: the trials do not repeat one another's settings.
    assert len({tuple(sorted(trial.params.items())) for trial in trials}) == 5
    assert read_record(tmp_path / "mlp").this_run.trials == 5
