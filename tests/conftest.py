"""Shared fixtures: a small synthetic dataset in the Kaggle layout, and an isolated image cache."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from multimodal_genre.config import Config, load_config
from multimodal_genre.data import GenreDataset, MissingImageWarning, load_dataset, write_synthetic_dataset
from multimodal_genre.data.layout import FEATURES_CSV

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
    """All four models trained once on the synthetic hold-out split; many tests read its folders."""
    from multimodal_genre.experiments import run_comparison

    return run_comparison(fast_dataset, fast_config, tmp_path_factory.mktemp("runs") / "compare")
