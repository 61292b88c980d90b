"""Shared fixtures: a small synthetic dataset in the Kaggle layout, and an isolated image cache."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multimodal_genre.audio import SAMPLE_RATE
from multimodal_genre.config import Config, load_config
from multimodal_genre.data import GenreDataset, MissingImageWarning, load_dataset, write_synthetic_dataset
from multimodal_genre.data.layout import FEATURES_CSV
from multimodal_genre.workers import available_cores, use_threads

TRACKS_PER_GENRE = 16
FAST_CONFIG = Path(__file__).parent.parent / "configs" / "demo.yaml"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty image cache, so no test sees another's arrays."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("MULTIMODAL_GENRE_CACHE", str(directory))
    return directory


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def two_view_config() -> Config:
    """The default config with the fused model as the 3x3 CNN and MLP branches alone (no pre-trained
    branch), for tests of those branches and the head that must not need musicnn's view."""
    config = load_config()
    return config.with_model("fused", dataclasses.replace(config.models["fused"], pretrained=None))


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention synthetic dataset; tests that modify files use ``dataset_copy``."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic") / "gtzan", tracks_per_genre=TRACKS_PER_GENRE)


@pytest.fixture(scope="session")
def synthetic(synthetic_root: Path, config: Config) -> GenreDataset:
    with pytest.warns(UserWarning):
        return load_dataset(synthetic_root, dataclasses.replace(config.data, cache=False))


@pytest.fixture
def dataset_copy(synthetic_root: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic dataset that a test may damage."""
    return Path(shutil.copytree(synthetic_root, tmp_path / "gtzan"))


def unfolded(text: str) -> str:
    """Printed text as one line with single spaces: lines folded at 80 columns read as written."""
    return " ".join(text.split())


def messages(stderr: str) -> list[str]:
    """The command line's messages on standard error, each unfolded: a message starts with the
    command's name and goes on over the lines indented beneath it (folded at 80 columns)."""
    found: list[list[str]] = []
    for line in stderr.splitlines():
        if line.startswith("  ") and found:
            found[-1].append(line)
        else:
            found.append([line])
    return [" ".join(" ".join(lines).split()) for lines in found if lines[0].strip()]


def one_error(stderr: str) -> str:
    """The command's one error message (warnings aside), unfolded; it must print exactly one, no
    traceback, and every line of it within 80 columns but for a word longer than that (a path)."""
    assert "Traceback" not in stderr
    errors = [message for message in messages(stderr) if message.startswith("multimodal-genre: error")]
    assert len(errors) == 1, stderr
    for line in stderr.splitlines():
        assert len(line) <= 80 or len(line.split()[-1]) > 80 - len("multimodal-genre: error: "), line
    return errors[0]


def required_by_ci(variable: str, what: str) -> str:
    """The value of an environment variable naming an outside resource (the real data, a server):
    without it the test is skipped, except under CI=true, which always provides it."""
    value = os.environ.get(variable)
    if not value:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must set {variable} ({what})")
        pytest.skip(f"{variable} is not set ({what})")
    return value


def read_csv_text(root: Path) -> pd.DataFrame:
    """The features CSV as strings, exactly as written."""
    return pd.read_csv(root / FEATURES_CSV, dtype=str, keep_default_na=False)


def write_csv_text(root: Path, table: pd.DataFrame) -> None:
    table.to_csv(root / FEATURES_CSV, index=False, lineterminator="\r\n")


@pytest.fixture(scope="session")
def fast_config() -> Config:
    """Small models (configs/demo.yaml) on 32-pixel grayscale images."""
    return load_config(FAST_CONFIG)


@pytest.fixture(scope="session")
def fast_dataset(synthetic_root: Path, fast_config: Config) -> GenreDataset:
    with pytest.warns(MissingImageWarning):
        return load_dataset(synthetic_root, dataclasses.replace(fast_config.data, cache=False))


@pytest.fixture(scope="session")
def comparison(tmp_path_factory: pytest.TempPathFactory, fast_dataset: GenreDataset, fast_config: Config):
    """All four models trained once on the synthetic hold-out split; many tests, in several files and
    test processes, read its folders (the first process to ask trains it, the others wait and read)."""
    from multimodal_genre.comparison import ComparisonResult, run_comparison

    with shared_folder(tmp_path_factory, "comparison") as (folder, empty):
        if empty:
            result = run_comparison(fast_dataset, fast_config, folder / "compare")
            result.scores.to_csv(folder / "scores.csv", index=False)
            (folder / "seconds").write_text(repr(result.seconds))
        return ComparisonResult(
            folder / "compare", pd.read_csv(folder / "scores.csv"), float((folder / "seconds").read_text())
        )


@contextlib.contextmanager
def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """A folder that every test process of this run (pytest-xdist's workers) shares, and whether it
    is still empty; the block runs under a lock, so one process fills it and the others find it full."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base folders sit side by side in the run's folder
    folder = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        filled = folder / ".filled"
        empty = not filled.exists()
        if empty:
            shutil.rmtree(folder, ignore_errors=True)  # what a failed filler left
            folder.mkdir()
        yield folder, empty
        filled.touch()


def pytest_configure(config: pytest.Config) -> None:
    """Test processes side by side share the cores: each trains with its share, as ``--jobs`` workers do."""
    processes = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if processes:
        use_threads(max(1, available_cores() // int(processes)))


def tone(seconds: float = 30.0, seed: int = 0) -> np.ndarray:
    """A test signal with structure in time and frequency: a rising chirp, a steady tone, beats of
    noise over a quiet hiss (music fills every band, and the picture keeps only 40 dB), all at a level
    that changes over the clip."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    chirp = np.sin(2 * np.pi * (200 * time + 60 * time**2))
    beats = rng.normal(size=time.size) * (np.sin(2 * np.pi * 2 * time) > 0.9)
    level = 0.1 + 0.05 * np.sin(2 * np.pi * time / 7)
    hiss = 0.03 * rng.normal(size=time.size)
    return (level * (chirp + 0.5 * np.sin(2 * np.pi * 880 * time) + 0.3 * beats + hiss)).astype(np.float32)
