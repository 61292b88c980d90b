"""The members of a bag saved as each finishes, so that an interrupted training goes on.

A fold bag of five networks is most of an hour of one fold of a comparison on a laptop CPU; without
its finished members saved, ``--resume`` after a ``kill -9`` would train all five again. Each member
is written whole (``writing_folder``) as a checkpoint, with a fingerprint of what it was trained from
(family, settings, seed, dataset and rows), and is taken back only while that fingerprint still
matches.
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
from multimodal_genre.seen import Seen
from multimodal_genre.settings import Settings, to_data

logger = logging.getLogger(__name__)

RECORD = "checkpoint.json"  # written last: a folder without it is no checkpoint


def checkpoint_folder(run_dir: Path) -> Path:
    """Where the members that go into the run ``run_dir`` are saved until it is written."""
    return run_dir.with_name(f".{run_dir.name}.members")


def discard_checkpoints(run_dir: Path) -> None:
    """Remove the checkpoints of ``run_dir``, once the run itself is written."""
    shutil.rmtree(checkpoint_folder(run_dir), ignore_errors=True)


def restored_or_fit(
    folder: Path | None,
    family: Family,
    settings: Settings,
    dataset: GenreDataset,
    split: Split,
    seed: int,
    fit: Callable[[], TrainedModel],
) -> TrainedModel:
    """The model checkpointed in ``folder`` when it was trained from the same family, settings,
    dataset, rows and seed; else ``fit()``, checkpointed there for next time. Without a folder, ``fit()``."""
    if folder is None:
        return fit()
    fingerprint = _fingerprint(family, settings, dataset, split, seed)
    restored = _read(folder, family, fingerprint)
    if restored is not None:
        logger.info(f"{family.name}: took {folder.name} back from {folder} (trained before an interruption)")
        return restored
    trained = fit()
    with writing_folder(folder) as partial:
        trained.save(partial)
        write_csv(partial / "history.csv", trained.history, index=False)
        record = {
            "fingerprint": fingerprint,
            "kept": trained.kept,
            "seconds": trained.seconds,
            "trained": sorted(trained.seen.trained),
            "watched": sorted(trained.seen.watched),
        }
        write_text(partial / RECORD, json.dumps(record))
    return trained


def _read(folder: Path, family: Family, fingerprint: str) -> TrainedModel | None:
    """The model checkpointed in ``folder`` for ``fingerprint``; None where there is none, it was
    trained from something else, or it cannot be read (then it is trained again, with a warning)."""
    if not (folder / RECORD).is_file():
        return None
    try:
        record = json.loads((folder / RECORD).read_text())
        if record.get("fingerprint") != fingerprint:
            return None
        history = pd.read_csv(folder / "history.csv")
        seen = Seen(frozenset(record["trained"]), frozenset(record["watched"]))
        model = family.load(folder)
        return TrainedModel(family, model, history, int(record["kept"]), float(record["seconds"]), seen)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RunError) as error:
        logger.warning(f"{folder}: a checkpoint that cannot be read ({error}); training it again")
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
