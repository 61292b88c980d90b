"""On-disk cache of arrays computed from a dataset's files: decoded images, and the embeddings of a
pre-trained network (``musicnn/embeddings.py``); and for ``predict``, what an audio file's windows
gave (``audio.extract_cached``) and their pre-trained views, so that a later call on the same audio
starts neither librosa nor TensorFlow.

The key is a hash of every input file's content (not its path or time stamp) and of the settings
that made the array, so an edited file or a changed setting always misses; a stale array is never served. Each
entry has its SHA-256 beside it, written after the entry: a truncated or bit-flipped entry, or one
whose writer died before the checksum, is rebuilt (with a warning), never served.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from multimodal_genre.data.settings import DataConfig, ImageConfig
from multimodal_genre.files import write_bytes, write_text

# Bump when the preprocessing code changes what it produces for the same inputs and settings.
CACHE_FORMAT = 2


def default_cache_dir() -> Path:
    """$MULTIMODAL_GENRE_CACHE, else $XDG_CACHE_HOME/multimodal_genre, else ~/.cache/multimodal_genre."""
    if os.environ.get("MULTIMODAL_GENRE_CACHE"):
        return Path(os.environ["MULTIMODAL_GENRE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "multimodal_genre"


def directory_for(config: DataConfig) -> Path | None:
    """Where ``config`` keeps its cache: None where it keeps none."""
    if not config.cache:
        return None
    return Path(config.cache_dir) if config.cache_dir else default_cache_dir()


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def key(payload: dict[str, Any]) -> str:
    """The cache key of what ``payload`` (JSON data: content digests, settings, format) describes."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def images_key(digests: Sequence[str], config: ImageConfig) -> str:
    """Cache key of the arrays made from images with these content digests, in this order."""
    return key({"format": CACHE_FORMAT, "image": dataclasses.asdict(config), "digests": list(digests)})


def load_array(directory: Path, key: str, kind: str = "images") -> np.ndarray | None:
    """The cached array of ``kind`` for ``key``, or None when absent, damaged or unreadable (then it is rebuilt)."""
    path = _entry(directory, key, kind)
    if not path.exists():
        return None
    try:
        content = path.read_bytes()
        checksum = _checksum(path)
        if not checksum.is_file():
            raise ValueError(f"no {checksum.name}: its writer stopped before finishing")
        if hashlib.sha256(content).hexdigest() != checksum.read_text().strip():
            raise ValueError(f"its content does not match {checksum.name}")
        return np.load(io.BytesIO(content), allow_pickle=False)
    except (OSError, ValueError) as error:
        warnings.warn(f"{path}: damaged cache entry ({error}); rebuilding it", stacklevel=2)
        return None


def save_array(directory: Path, key: str, array: np.ndarray, kind: str = "images") -> Path:
    """The entry and then its checksum, each written whole (temporary file, then rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = _entry(directory, key, kind)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes(path, buffer.getvalue())
    write_text(_checksum(path), hashlib.sha256(buffer.getvalue()).hexdigest() + "\n")
    return path


def keep(directory: Path, key: str, array: np.ndarray, kind: str) -> None:
    """``save_array``, or a warning where the cache cannot be written: the work is done again next time."""
    try:
        save_array(directory, key, array, kind)
    except OSError as error:
        message = f"{directory}: cannot write the {kind} cache ({error.strerror}); computed again next time"
        warnings.warn(message, stacklevel=3)


def _entry(directory: Path, key: str, kind: str) -> Path:
    return directory / f"{kind}-{key}.npy"


def _checksum(entry: Path) -> Path:
    return entry.with_suffix(".sha256")
