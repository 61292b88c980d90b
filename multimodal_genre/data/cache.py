"""On-disk cache of decoded image arrays.

The key is a hash of every input image's content (not its path or time stamp) and of the image
settings, so an edited file or a changed setting always misses; a stale array is never served.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from multimodal_genre.data.settings import ImageConfig

# Bump when the preprocessing code changes what it produces for the same inputs and settings.
CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """$MULTIMODAL_GENRE_CACHE, else $XDG_CACHE_HOME/multimodal_genre, else ~/.cache/multimodal_genre."""
    if os.environ.get("MULTIMODAL_GENRE_CACHE"):
        return Path(os.environ["MULTIMODAL_GENRE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "multimodal_genre"


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def images_key(digests: Sequence[str], config: ImageConfig) -> str:
    """Cache key of the arrays made from images with these content digests, in this order."""
    payload = json.dumps(
        {"format": CACHE_FORMAT, "image": dataclasses.asdict(config), "digests": list(digests)}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def load_array(directory: Path, key: str) -> np.ndarray | None:
    """The cached array for ``key``, or None when absent or unreadable (then it is rebuilt)."""
    path = directory / f"images-{key}.npy"
    if not path.exists():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        warnings.warn(f"{path}: ignoring unreadable cache file ({error}); rebuilding it", stacklevel=2)
        return None


def save_array(directory: Path, key: str, array: np.ndarray) -> Path:
    """Write atomically (temporary file, then rename) so a crash never leaves a half-written entry."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"images-{key}.npy"
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
