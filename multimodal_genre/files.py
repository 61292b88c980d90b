"""Writing output that no reader takes for whole while it is half-written, one writer per folder.

A file is written under a temporary name beside it and renamed over its own name once complete: a
rename within a folder is atomic, so after a full disk or a ``kill -9`` the name holds the old
content or the new, never part of either. An output folder is locked while a command writes into
it, so a second command pointed at the same folder is refused instead of mixing its files in. The
lock is the operating system's (``flock``), released when its process ends however it ends, so a
killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multimodal_genre.errors import RunError

if TYPE_CHECKING:
    import pandas as pd

LOCK_FILE = ".lock"  # in an output folder while a command writes into it


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write into; renamed to ``path`` when the block ends
    without an error, removed when it fails."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def writing_folder(directory: Path) -> Iterator[Path]:
    """A scratch folder beside ``directory`` to write into, put in its place whole when the block ends
    and removed if it fails: a folder named like a run is never half-written. ``directory`` may be
    an empty folder reserved for it, or an unfinished one an interrupted run left (replaced)."""
    partial = directory.with_name(f".{directory.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
        if directory.exists():
            shutil.rmtree(directory)
        partial.rename(directory)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    """``path`` holds ``text`` whole, or keeps what it held."""
    with replacing(path) as partial:
        partial.write_text(text)


def write_json(path: Path, content: Mapping[str, Any]) -> None:
    """``content`` as indented JSON (no NaN, which JSON lacks), whole or not at all."""
    write_text(path, json.dumps(content, indent=2, allow_nan=False) + "\n")


def write_csv(path: Path, table: pd.DataFrame, **options: Any) -> None:
    """``table.to_csv(path, **options)``, whole or not at all."""
    with replacing(path) as partial:
        table.to_csv(partial, **options)


def write_bytes(path: Path, content: bytes) -> None:
    """``path`` holds ``content`` whole, or keeps what it held."""
    with replacing(path) as partial:
        partial.write_bytes(content)


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> content): a folder as a worker sends it back."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def write_folder(folder: Path, files: Mapping[str, bytes]) -> None:
    """The files ``read_folder`` gave, written under ``folder``."""
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


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


@contextlib.contextmanager
def writing_into(folder: Path) -> Iterator[Path]:
    """Hold ``folder``'s lock (creating the folder) while a command writes into it; another process
    holding it is a RunError naming the folder. The lock file goes when the command ends, so a
    finished folder holds only its results."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_FILE
    with lock.open("a") as handle:
        if not _try_lock(handle.fileno()) or not _still_there(lock, handle.fileno()):
            raise _busy(folder)
        try:
            yield folder
        finally:
            lock.unlink(missing_ok=True)  # removed while still held: a waiting process finds it gone


def _still_there(lock: Path, descriptor: int) -> bool:
    """Whether the locked file is still the folder's lock file (its holder may have removed it in between)."""
    try:
        return os.path.samestat(os.fstat(descriptor), os.stat(lock))
    except FileNotFoundError:
        return False


def check_not_busy(folder: Path) -> None:
    """A RunError naming ``folder`` if another process writes into it now."""
    lock = folder / LOCK_FILE
    if lock.is_file():
        with lock.open("a") as handle:
            if not _try_lock(handle.fileno()):
                raise _busy(folder)


def _busy(folder: Path) -> RunError:
    return RunError(
        f"{folder}: another multimodal-genre process is writing into this folder; "
        "wait for it to end or choose another --out"
    )


def _try_lock(descriptor: int) -> bool:
    """An exclusive lock on the open file, held until it is closed; False where another process holds it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
