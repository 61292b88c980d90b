"""The networks' family (``NetworkFamily``) and its four models, registered when one of them is first asked for."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from multimodal_genre.errors import ConfigError, RunError, first_line
from multimodal_genre.families.base import Family, Fitted
from multimodal_genre.families.networks.settings import NetworkConfig
from multimodal_genre.families.registry import register
from multimodal_genre.musicnn import Embedding
from multimodal_genre.settings import Problems

if TYPE_CHECKING:
    import optuna

    from multimodal_genre.data import Labelled, Tracks

KERAS_MODEL = "model.keras"
_BRANCHES = {"image": "image", "features": "tabular", "pretrained": "pretrained"}  # view -> its branch's section
# What pruning watches: a validation figure that rises, like the objective.
PRUNING_MONITOR = "val_accuracy"


class NetworkFamily(Family):
    """Keras networks with a branch for each of their ``views`` (``image``: the image branch,
    ``features``: the tabular branch, ``pretrained``: the pre-trained music branch), and for any of
    the ``optional`` views their settings ask for."""

    settings = NetworkConfig
    unit = "epoch"
    length_setting = "training.epochs"
    files = (KERAS_MODEL,)
    derived = MappingProxyType(
        {
            "image.filters": ("image.blocks", "image.first_filters", 2.0),  # doubling per block
            "tabular.widths": ("tabular.layers", "tabular.width", 0.5),  # halving per layer
            "pretrained.widths": ("pretrained.layers", "pretrained.width", 0.5),
            "head.widths": ("head.layers", "head.width", 0.5),
        }
    )

    def __init__(
        self, name: str, views: tuple[str, ...], shades: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> None:
        self.name, self.views, self.shades, self.optional = name, views, shades, optional

    def searchable(self, key: str, section: Mapping[str, Any]) -> bool:
        """A setting of a branch the model has (the packaged spaces name every branch's)."""
        branch = key.split(".")[0]
        return branch not in _BRANCHES.values() or section.get(branch) is not None

    def problems(self, settings: NetworkConfig) -> Problems:
        present = {view for view, branch in _BRANCHES.items() if getattr(settings, branch) is not None}
        if not set(self.views) <= present <= {*self.views, *self.optional}:
            needed = " and ".join(_BRANCHES[view] for view in self.views)
            plural = "es" if len(self.views) > 1 else ""
            may = " and ".join(_BRANCHES[view] for view in self.optional)
            yield "", f"must have the {needed} branch{plural}{f' (and may have {may})' if may else ''} and no other"

    def embeddings(self, settings: NetworkConfig) -> tuple[Embedding, ...]:
        return settings.embeddings()

    def watches_validation(self, settings: NetworkConfig) -> bool:
        return settings.training.early_stopping is not None

    def fit(
        self,
        settings: NetworkConfig,
        train: Labelled,
        validation: Labelled | None,
        seed: int,
        callbacks: Sequence[Any] = (),
    ) -> Fitted:
        from multimodal_genre.families.networks.fitting import train_network

        return train_network(self, settings, train, validation, seed, callbacks)

    def migrate(self, section: Mapping[str, Any], where: str) -> Mapping[str, Any]:
        """Until bagging wrapped every family, a network's ensemble was ``training.ensemble``:
        it moves to the section's ``bagging``."""
        training = section.get("training") if isinstance(section, Mapping) else None
        if not isinstance(training, Mapping) or "ensemble" not in training:
            return section
        if "bagging" in section:
            raise ConfigError(f"{where}: 'training.ensemble' is the old place of 'bagging': give one of them")
        others = {key: value for key, value in training.items() if key != "ensemble"}
        return {**section, "training": others, "bagging": training["ensemble"]}

    def step_loggers(self, directory: Path) -> Sequence[Any]:
        import keras

        return (keras.callbacks.TensorBoard(log_dir=str(directory)),)

    def predict_proba(self, model: Any, tracks: Tracks) -> np.ndarray:
        from multimodal_genre.families.networks.build import model_inputs

        # Called batch by batch, not through model.predict: predict traces a new tf.function for every
        # model, and a bag's members or a comparison's folds set off TensorFlow's retracing warnings.
        inputs = model_inputs(model, tracks)
        rows = len(next(iter(inputs.values())))
        batches = [
            np.asarray(model({name: array[start : start + 64] for name, array in inputs.items()}, training=False))
            for start in range(0, rows, 64)
        ]
        return np.concatenate(batches) if batches else np.empty((0, model.output.shape[-1]), dtype=np.float32)

    def save(self, model: Any, directory: Path) -> None:
        path = directory / KERAS_MODEL
        try:
            model.save(path)
        except OSError as error:  # Keras writes through a zip file whose errors name no file
            raise OSError(error.errno, error.strerror or str(error), str(path)) from None

    def load(self, directory: Path) -> Any:
        """Keras' safe mode stays on: a file holding code (a Lambda layer) is refused, never run."""
        from multimodal_genre.backend import load_keras

        load_keras()
        import keras

        import multimodal_genre.families.networks.build  # noqa: F401  (registers the custom layers a saved network may hold)

        path = directory / KERAS_MODEL
        try:
            return keras.saving.load_model(path)
        except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as error:
            if "safe_mode" in str(error):
                raise RunError(
                    f"{path}: holds Python code (a Lambda layer), which is never run on loading; if you trust "
                    "the file, load it yourself with keras.saving.load_model(path, safe_mode=False)"
                ) from None
            raise RunError(f"{path}: damaged or not a network this package saved ({first_line(error)})") from None

    def pruning_callback(self, trial: optuna.Trial, settings: NetworkConfig) -> Any:
        from optuna_integration import KerasPruningCallback

        from multimodal_genre.families.networks.fitting import log_name

        return KerasPruningCallback(trial, log_name(settings, PRUNING_MONITOR))


register(
    NetworkFamily(
        "fused",
        views=("image", "features"),
        shades=("#d62728", "#ff9896", "#8c1515", "#f25c54", "#4d0b0b"),
        optional=("pretrained",),
    )
)
register(NetworkFamily("cnn", views=("image",), shades=("#1f77b4", "#aec7e8", "#0f3d66", "#5fa2dd", "#08223d")))
register(NetworkFamily("mlp", views=("features",), shades=("#2ca02c", "#98df8a", "#145214", "#5cc85c", "#0b2e0b")))
register(
    NetworkFamily(
        "musicnn",
        views=("pretrained",),
        shades=("#9467bd", "#c5b0d5", "#4f2d7a", "#b08fd6", "#2a1745"),
        optional=("features",),
    )
)
