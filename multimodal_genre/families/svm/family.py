"""The SVM's family (``SVMFamily``), registered when the svm is first asked for."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multimodal_genre.errors import ConfigError, RunError, first_line
from multimodal_genre.families.base import Family, Fitted
from multimodal_genre.families.registry import register
from multimodal_genre.families.svm.settings import SVMConfig
from multimodal_genre.musicnn import Embedding
from multimodal_genre.settings import from_data, to_data

if TYPE_CHECKING:
    from multimodal_genre.data import Labelled, Tracks

SETTINGS_FILE = "svm.json"
ROWS_FILE = "svm_rows.npz"
_ARRAYS = ("centre", "scale", "rows", "labels")


class SVMFamily(Family):
    """scikit-learn's SVC with calibrated probabilities, kept as the rows it was fitted on."""

    name = "svm"
    settings = SVMConfig
    views = ("features", "pretrained")
    unit = "fit"
    shades = ("#8c564b", "#c49c94", "#4e2c25", "#b07a6e", "#2b1713")
    length_setting = None
    files = (SETTINGS_FILE, ROWS_FILE)

    def watches_validation(self, settings: SVMConfig) -> bool:
        return False

    def embeddings(self, settings: SVMConfig) -> tuple[Embedding, ...]:
        return () if settings.pretrained is None else (settings.pretrained.embedding,)

    def fit(
        self,
        settings: SVMConfig,
        train: Labelled,
        validation: Labelled | None,
        seed: int,
        callbacks: Sequence[Any] = (),
    ) -> Fitted:
        from multimodal_genre.families.svm.kernel import train_svm

        return train_svm(settings, train, validation, seed)

    def predict_proba(self, model: Any, tracks: Tracks) -> np.ndarray:
        from multimodal_genre.families.svm.kernel import machine_proba

        return machine_proba(model, tracks)

    def save(self, model: Any, directory: Path) -> None:
        saved = {"settings": to_data(model.settings), "seed": model.seed, "temperature": model.inverse_temperature}
        (directory / SETTINGS_FILE).write_text(json.dumps(saved))
        np.savez(directory / ROWS_FILE, **{name: getattr(model, name) for name in _ARRAYS})

    def load(self, directory: Path) -> Any:
        from multimodal_genre.families.svm.kernel import KernelMachine, calibrated_parts, svc

        try:
            saved = json.loads((directory / SETTINGS_FILE).read_text())
            settings = from_data(SVMConfig, saved["settings"], str(directory / SETTINGS_FILE))
            seed, temperature = int(saved["seed"]), saved.get("temperature")
            with np.load(directory / ROWS_FILE, allow_pickle=False) as arrays:
                centre, scale, rows, labels = (arrays[name] for name in _ARRAYS)
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, ConfigError) as error:
            raise RunError(f"{directory}: damaged or not a machine this package saved ({first_line(error)})") from None
        if temperature is None:  # saved before the temperature was kept: calibrated again
            machine, temperature = calibrated_parts(settings, rows, labels, seed)
        else:
            machine = svc(settings).fit(rows, labels)
        return KernelMachine(settings, seed, centre, scale, rows, labels, machine, float(temperature))


register(SVMFamily())
