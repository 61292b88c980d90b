"""The models of a longer training kept on disk as each finishes, so that an interrupted one goes on.

A fold ensemble of five networks is most of an hour of one fold of a comparison on a laptop CPU;
without its finished members kept, ``--resume`` after a ``kill -9`` would train all five again. Each
model is written whole (``writing_folder``) with a fingerprint of what it was trained from (family,
settings, seed, dataset and rows) and is taken back only while that fingerprint still matches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from multimodal_genre.data import GenreDataset, Split
from multimodal_genre.errors import RunError
from multimodal_genre.families.base import Family, TrainedModel
from multimodal_genre.files import write_csv, write_text, writing_folder
from multimodal_genre.settings import Settings, to_data

logger = logging.getLogger(__name__)

RECORD = "checkpoint.json"  # written last: a folder without it is no checkpoint


def kept_folder(run_dir: Path) -> Path:
    """Where the models that go into the run ``run_dir`` are kept until it is written."""
    return run_dir.with_name(f".{run_dir.name}.members")


def discard_kept(run_dir: Path) -> None:
    """Remove what was kept for ``run_dir``, once the run itself is written."""
    shutil.rmtree(kept_folder(run_dir), ignore_errors=True)


def kept_or_fit(
    folder: Path | None,
    family: Family,
    settings: Settings,
    dataset: GenreDataset,
    split: Split,
    seed: int,
    fit: Callable[[], TrainedModel],
) -> TrainedModel:
    """The model kept in ``folder`` when it was trained from the same family, settings, dataset, rows
    and seed; else ``fit()``, kept there for next time. Without a folder, ``fit()``."""
    if folder is None:
        return fit()
    fingerprint = _fingerprint(family, settings, dataset, split, seed)
    kept = _read(folder, family, fingerprint)
    if kept is not None:
        logger.info(f"{family.name}: kept {folder.name} from {folder} (trained before an interruption)")
        return kept
    trained = fit()
    with writing_folder(folder) as partial:
        trained.save(partial)
        write_csv(partial / "history.csv", trained.history, index=False)
        record = {"fingerprint": fingerprint, "best_epoch": trained.best_epoch, "seconds": trained.seconds}
        write_text(partial / RECORD, json.dumps(record))
    return trained


def _read(folder: Path, family: Family, fingerprint: str) -> TrainedModel | None:
    """The model kept in ``folder`` for ``fingerprint``; None where there is none, it was trained from
    something else, or it cannot be read (then it is trained again, with a warning)."""
    if not (folder / RECORD).is_file():
        return None
    try:
        record = json.loads((folder / RECORD).read_text())
        if record.get("fingerprint") != fingerprint:
            return None
        history = pd.read_csv(folder / "history.csv")
        return TrainedModel(family, family.load(folder), history, int(record["best_epoch"]), float(record["seconds"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RunError) as error:
        logger.warning(f"{folder}: a kept model that cannot be read ({error}); training it again")
        return None


def _fingerprint(family: Family, settings: Settings, dataset: GenreDataset, split: Split, seed: int) -> str:
    what = {
        "family": family.name,
        "settings": to_data(settings),
        "seed": seed,
        "dataset": dataset.fingerprint,
        "train": split.train.tolist(),
        "validation": split.validation.tolist(),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
