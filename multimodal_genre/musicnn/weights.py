"""Where musicnn's checkpoints come from, checked byte for byte before a network reads them.

The four TensorFlow 1 checkpoints ship inside the PyPI wheel musicnn 0.1.0 (ISC licence, Music
Technology Group, Universitat Pompeu Fabra), one folder each, under an empty file-name prefix. They are
read from ``$MULTIMODAL_GENRE_WEIGHTS/musicnn/<FOLDER>/model.*`` when there, else from the cache, where
the first use puts them: pip downloads the wheel (no install: its metadata pins numpy < 1.17) and the
two files a network needs are taken out of it. Every file is checked against the SHA-256 it was
published with; a missing or different file is a one-line error naming it, never a random start.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from multimodal_genre.data.cache import default_cache_dir, file_digest
from multimodal_genre.errors import ConfigError
from multimodal_genre.files import write_bytes

WEIGHTS_DIR = "MULTIMODAL_GENRE_WEIGHTS"
WHEEL = "musicnn==0.1.0"
PREFIX = "model"  # the checkpoint's file-name prefix here; the wheel's is empty
DATA, INDEX = f"{PREFIX}.data-00000-of-00001", f"{PREFIX}.index"
# SHA-256 of each checkpoint's two files, as the wheel holds them.
SHA256 = {
    "MSD_musicnn": {
        DATA: "8579734ee6388f799ed0def4bbd0d1fdcbeaf213ef2a9dc860917bd76a303de6",
        INDEX: "87f3e0f3550c8d3bafc840374003e5c8af5eeb5ecf6add61af09a7822d3282c8",
    },
    "MTT_musicnn": {
        DATA: "041f3935e981a65cea739842d30c188d3a7d2adf4410955c8668eb3de4a5acab",
        INDEX: "da2d7bb670b2b31e9bc441bb1bd75eca31b5b061f963cc1f9630c1aff3238f57",
    },
    "MSD_vgg": {
        DATA: "9683d756b8311146534f333502ebf4a2a78a3e320c54ab0411dff6186d8375fc",
        INDEX: "50e499238457558bba9f34f8b84d4afb8279afd43520cdf0a4fdf805a49c9ca3",
    },
    "MTT_vgg": {
        DATA: "458f5c8bcecc086a3bba3dce83809df6da6e0a3560a59ddd84711bf3d5fd8303",
        INDEX: "4b0d3d2d02bbe0919c063c1fb74bfa9018ac3517e362d681b07444d4207a5f5f",
    },
}


def folder_name(architecture: str, weights: str) -> str:
    """The wheel's folder of ``weights`` (msd or mtt) for ``architecture`` (musicnn or vgg): ``MSD_musicnn``."""
    return f"{weights.upper()}_{architecture}"


def checkpoint_prefix(architecture: str, weights: str) -> str:
    """The checkpoint prefix (``.../MSD_musicnn/model``) of ``weights``: msd or mtt from the weights
    folder, the cache or the wheel, each file checked; any other value is the prefix of a
    checkpoint of the user's own (``DIR/model`` for ``DIR/model.index``), taken as it is."""
    if weights not in ("msd", "mtt"):
        return _own_checkpoint(weights)
    name = folder_name(architecture, weights)
    shipped = os.environ.get(WEIGHTS_DIR)
    if shipped and (Path(shipped) / "musicnn" / name).is_dir():
        return _checked(Path(shipped) / "musicnn" / name, name)
    cached = default_cache_dir() / "weights" / "musicnn" / name
    if not all((cached / file).is_file() for file in SHA256[name]):
        _fetch(name, cached)
    return _checked(cached, name)


def _own_checkpoint(weights: str) -> str:
    prefix = Path(weights).expanduser()
    for suffix in (".index", ".data-00000-of-00001"):
        if not Path(f"{prefix}{suffix}").is_file():
            raise ConfigError(
                f"pretrained.backbone.weights: no checkpoint file {prefix}{suffix} "
                "(give msd, mtt or the prefix of a TensorFlow checkpoint, DIR/model for DIR/model.index)"
            )
    return str(prefix)


def _checked(folder: Path, name: str) -> str:
    for file, expected in SHA256[name].items():
        path = folder / file
        if not path.is_file():
            raise ConfigError(f"{path}: missing, the {name} checkpoint needs it (pip download --no-deps {WHEEL})")
        if file_digest(path) != expected:
            raise ConfigError(f"{path}: not the {name} checkpoint musicnn 0.1.0 published (SHA-256 differs)")
    return str(folder / PREFIX)


def _fetch(name: str, folder: Path) -> None:
    """The wheel downloaded by pip into a scratch folder and ``name``'s two files copied out of it."""
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-") as scratch:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", scratch, WHEEL]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = sorted(Path(scratch).glob("musicnn-*.whl"))
        if done.returncode != 0 or not wheels:
            reason = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise ConfigError(
                f"musicnn weights: ${WEIGHTS_DIR}/musicnn/{name} is not there and pip could not download "
                f"{WHEEL} ({reason})"
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            for file in SHA256[name]:
                member = f"musicnn/{name}/{file.removeprefix(PREFIX)}"
                try:
                    content = wheel.read(member)
                except KeyError:
                    raise ConfigError(f"{wheels[0].name}: has no {member}") from None
                if hashlib.sha256(content).hexdigest() != SHA256[name][file]:
                    raise ConfigError(f"{wheels[0].name}: {member} is not the file musicnn 0.1.0 published")
                folder.mkdir(parents=True, exist_ok=True)
                write_bytes(folder / file, content)
