"""Keras and its backend, loaded quietly by the commands that need them, and the devices they train on.

The package builds its networks with Keras 3 alone, so they train on whichever backend an environment
has: TensorFlow as the ``cpu`` and ``gpu`` extras install it, or the one a GPU notebook already has.

TensorFlow prints C++ log lines while it loads (absl's note that logging is not initialised yet,
oneDNN's and cpu_feature_guard's notices) and warns through its Python logger whenever a
``tf.function`` is traced again, which predicting with each new model of a comparison does by design.
None of these asks anything of a user, so they are dropped; any other line printed while loading is
shown.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

from multimodal_genre.errors import ConfigError

INSTALL_HINT = "pip install 'multimodal-genre[cpu]' (or [gpu] on a machine with an NVIDIA GPU)"
_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "port.cc:",  # oneDNN custom operations are on
    "cpu_feature_guard.cc:",
    "To enable the following instructions:",
)
_RETRACING = "triggered tf.function retracing"


def load_keras() -> None:
    """Import Keras and its backend without their start-up noise; a ConfigError naming the install
    command where the backend is missing. Safe to call again."""
    logging.getLogger("tensorflow").addFilter(_drop_retracing)
    if "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's later C++ notices
    with _stderr_filtered():
        try:
            import keras  # noqa: F401 - imported for its backend, which loads with it
        except ImportError as error:
            raise ConfigError(f"Keras cannot load its backend ({error}); install one: {INSTALL_HINT}") from None


def describe() -> str:
    """What the networks and XGBoost train on, in words for the start of a command; a ConfigError
    naming the install command where either is missing, before anything trains."""
    load_keras()
    if importlib.util.find_spec("xgboost") is None:
        raise ConfigError(f"XGBoost is not installed; install it: {INSTALL_HINT}")
    import keras
    import xgboost

    backend = keras.backend.backend()
    version = getattr(sys.modules.get(backend), "__version__", "")
    devices = ", ".join(keras.distribution.list_devices())
    networks = f"networks on {devices} (Keras {keras.__version__}, {backend} {version})"
    return f"{networks}, XGBoost {xgboost.__version__} on cpu"


def _drop_retracing(record: logging.LogRecord) -> bool:
    return _RETRACING not in record.getMessage()


@contextlib.contextmanager
def _stderr_filtered() -> Iterator[None]:
    """Collect what is written to the process's standard error (C++ code included) while the block
    runs, then write back every line but the known start-up noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            shown = [line for line in captured.read().decode(errors="replace").splitlines() if not _noise(line)]
            if shown:
                print("\n".join(shown), file=sys.stderr)


def _noise(line: str) -> bool:
    return any(marker in line for marker in _NOISE) or not line.strip()
