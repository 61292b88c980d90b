"""Errors a user can fix: each message names the file, row or key at fault, on one line.

The command line prints these as one message, folded to 80 columns, and exits with status 2;
anything else is a bug and keeps its traceback.
"""

from collections.abc import Sequence


def some_of(names: Sequence[str], shown: int = 5) -> str:
    """The first ``shown`` of ``names``, then how many more: ``a, b, c and 4 more``."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def first_line(error: BaseException) -> str:
    """A library's error message cut to its first line (its type where it has none), for a one-line error."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class MultimodalGenreError(Exception):
    """Base class for errors caused by the user's input rather than by this package."""


class ConfigError(MultimodalGenreError, ValueError):
    """A configuration file or key is missing, unknown or has a bad value."""


class DataError(MultimodalGenreError, ValueError):
    """A dataset file is missing, malformed or inconsistent."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """No dataset folder where one was expected."""


class RunError(MultimodalGenreError, ValueError):
    """A run folder is missing, incomplete or written by an incompatible version."""


class AudioError(MultimodalGenreError, ValueError):
    """An audio file is missing, unreadable, empty or too short."""


class DivergedError(RunError):
    """A training whose loss is no longer a number, or has grown far above where it started."""
