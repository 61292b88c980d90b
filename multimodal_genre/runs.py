"""Run folders: everything one trained model leaves behind, and reading a model back from it.

A model run folder holds ``run.json`` (what, when, on which data and split, with which library
versions), ``config.yaml`` (the full resolved config), the model (``model.keras`` or XGBoost's own
``model.json``), the training history and learning curves, the test predictions, ``metrics.json``,
the per-genre classification report and the confusion matrix. Nothing in it is a pickle.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import sklearn
import tensorflow
import xgboost
import yaml

from multimodal_genre import __version__
from multimodal_genre.config import Config, config_dict, load_config
from multimodal_genre.data import GENRES, GenreDataset, Split
from multimodal_genre.errors import RunError
from multimodal_genre.evaluation import confusion, per_genre_report, score
from multimodal_genre.reports import (
    plot_confusion,
    plot_learning_curves,
    predictions_table,
    write_classification_report,
    write_json,
)
from multimodal_genre.training import TrainedModel

RUN_FORMAT = 1
RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
KERAS_MODEL = "model.keras"
XGBOOST_MODEL = "model.json"


@dataclasses.dataclass(frozen=True)
class ModelRun:
    """A trained model read back from its run folder."""

    directory: Path
    name: str
    config: Config
    model: object  # keras.Model or xgboost.XGBClassifier


def new_run_dir(base: Path, name: str) -> Path:
    """A fresh folder ``<base>/<UTC time>-<name>``; an existing folder is never reused."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        directory = base / (f"{stamp}-{name}" if attempt == 0 else f"{stamp}-{name}-{attempt}")
        try:
            directory.mkdir(parents=True)
            return directory
        except FileExistsError:
            continue
    raise RunError(f"{base}: cannot find a free run folder name for {name}")


def library_versions() -> dict[str, str]:
    return {
        "multimodal_genre": __version__,
        "python": sys.version.split()[0],
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "xgboost": xgboost.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def write_model_run(
    directory: Path,
    trained: TrainedModel,
    config: Config,
    dataset: GenreDataset,
    split: Split,
    probabilities: np.ndarray,
    split_info: dict,
    command: str | None = None,
    recipe: dict | None = None,
) -> dict[str, float]:
    """Save the model and every report of its test predictions; return the test metrics and,
    as ``f1_<genre>``, each genre's F1. ``recipe`` is the record of the recipe it ran, if any."""
    directory.mkdir(parents=True, exist_ok=True)
    labels = dataset.labels[split.test]
    metrics = score(labels, probabilities)
    title = f"{trained.name} ({'synthetic data' if dataset.synthetic else dataset.root.name})"

    if trained.name == "xgboost":
        trained.model.save_model(directory / XGBOOST_MODEL)
    else:
        trained.model.save(directory / KERAS_MODEL)
    (directory / CONFIG_FILE).write_text(yaml.safe_dump(config_dict(config), sort_keys=False))
    trained.history.to_csv(directory / "history.csv", index=False)
    plot_learning_curves(directory / "learning_curves.png", [(trained.history, trained.best_epoch)], title)
    predictions_table(dataset.track_ids[split.test], labels, probabilities).to_csv(
        directory / "predictions.csv", index=False
    )
    _split_table(dataset, split).to_csv(directory / "split.csv", index=False)
    write_json(directory / "metrics.json", metrics)
    report = per_genre_report(labels, probabilities)
    write_classification_report(directory, report, title)
    counts = confusion(labels, probabilities)
    pd.DataFrame(counts, index=list(GENRES), columns=list(GENRES)).to_csv(directory / "confusion_matrix.csv")
    plot_confusion(directory / "confusion_matrix.png", counts, title)
    write_json(
        directory / RUN_FILE,
        {
            "format": RUN_FORMAT,
            "kind": "model",
            "model": trained.name,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": command,
            "recipe": recipe,
            "versions": library_versions(),
            "dataset": dataset_info(dataset),
            "split": split_info,
            "training": {
                "seconds": round(trained.seconds, 2),
                "unit": trained.unit,
                "ran": len(trained.history),
                "kept": trained.best_epoch,
            },
            "metrics": metrics,
        },
    )
    return _test_scores(metrics, report)


def finished_run_scores(
    directory: Path, name: str, config: Config, dataset: GenreDataset, split: Split
) -> tuple[dict[str, float], float] | None:
    """The test scores (as ``write_model_run`` returns them) and training seconds of a model run that
    finished in ``directory``, or None where none did; so an interrupted comparison can go on where
    it stopped. A finished run of another model, config, dataset or split is an error, never reused."""
    if not (directory / RUN_FILE).is_file():
        return None
    info = read_run_info(directory)
    sides = pd.read_csv(directory / "split.csv", keep_default_na=False)
    expected = _split_table(dataset, split)
    problems = [
        *([] if info.get("model") == name else [f"a {info.get('model')} model, not {name}"]),
        *([] if load_config(directory / CONFIG_FILE) == config else ["another config"]),
        *([] if info["dataset"]["fingerprint"] == dataset.fingerprint else ["another dataset"]),
        *([] if sides[["track", "side"]].equals(expected[["track", "side"]]) else ["another split"]),
    ]
    if problems:
        raise RunError(f"{directory}: a finished run that cannot be kept: {', '.join(problems)}")
    report = json.loads((directory / "classification_report.json").read_text())
    return _test_scores(info["metrics"], report), float(info["training"]["seconds"])


def _test_scores(metrics: dict[str, float], report: dict) -> dict[str, float]:
    """The metrics and, as ``f1_<genre>``, each genre's F1 from the classification report."""
    return {**metrics, **{f"f1_{genre}": report[genre]["f1-score"] for genre in GENRES}}


def dataset_info(dataset: GenreDataset) -> dict:
    return {
        "root": str(dataset.root),
        "tracks": len(dataset),
        "fingerprint": dataset.fingerprint,
        "synthetic": dataset.synthetic,
        "image_shape": list(dataset.images.shape[1:]),
    }


def read_run_info(directory: Path) -> dict:
    """``run.json`` of a run folder, after checking that it is one this version can read."""
    path = directory / RUN_FILE
    if not directory.is_dir():
        raise RunError(f"{directory}: no such run folder")
    if not path.is_file():
        inside = sorted(child.name for child in directory.iterdir() if (child / RUN_FILE).is_file())
        hint = f"; the run folders in it: {', '.join(inside)}" if inside else ""
        raise RunError(f"{directory}: not a run folder (no {RUN_FILE}){hint}")
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RunError(f"{path}: unreadable ({error})") from None
    if info.get("format") != RUN_FORMAT:
        raise RunError(
            f"{path}: run format {info.get('format')!r}, this version of multimodal-genre reads format {RUN_FORMAT}"
        )
    return info


def load_model_run(directory: str | Path) -> ModelRun:
    """Read a trained model and its config back from a model run folder."""
    directory = Path(directory)
    info = read_run_info(directory)
    if info.get("kind") != "model":
        models = sorted(path.name for path in directory.iterdir() if (path / RUN_FILE).is_file())
        hint = f"; its model runs are in: {', '.join(models)}" if models else ""
        raise RunError(f"{directory}: a {info.get('kind')} folder, not a single model's run{hint}")
    config = load_config(directory / CONFIG_FILE)
    if info["model"] == "xgboost":
        model = xgboost.XGBClassifier()
        model.load_model(directory / XGBOOST_MODEL)
    else:
        model = keras.saving.load_model(directory / KERAS_MODEL)
    return ModelRun(directory, info["model"], config, model)


def _split_table(dataset: GenreDataset, split: Split) -> pd.DataFrame:
    side = np.empty(len(dataset), dtype=object)
    side[:] = "unused"
    side[split.train], side[split.validation], side[split.test] = "train", "validation", "test"
    return pd.DataFrame({"track": dataset.track_ids, "group": dataset.groups, "side": side})
