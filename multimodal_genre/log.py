"""The package's output: records of ``logging`` loggers under ``multimodal_genre``, printed by the
handler the command line installs, and whether a person watches them on a terminal (then Keras'
and Optuna's own progress bars stand in for the lines per epoch and per trial).

Used as a library, the package prints nothing; configure ``logging`` to see its lines.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import textwrap
from collections.abc import Iterator
from typing import TextIO

PACKAGE = "multimodal_genre"
COLUMNS = 80  # what the command line prints fits a terminal this wide
_CONSOLE = "multimodal_genre.console"


def wrap(text: str) -> str:
    """``text`` with each line folded to ``COLUMNS``, continuations indented; a word longer than a
    line (a long path) is kept whole."""
    return "\n".join(
        textwrap.fill(line, COLUMNS, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
        for line in text.split("\n")
    )


def say(*lines: str) -> None:
    """Print ``lines`` to standard output, folded to the terminal's 80 columns."""
    print(wrap("\n".join(lines)), flush=True)


def complain(text: str) -> None:
    """Print an error or warning line to standard error, folded to 80 columns like the rest."""
    print(wrap(text), file=sys.stderr, flush=True)


def status(text: str) -> None:
    """Say on standard error what a command is about to spend seconds on, keeping standard output
    for its results (a CSV there stays a CSV)."""
    complain(text)


class _Folded(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return wrap(super().format(record))


@contextlib.contextmanager
def to_console(stream: TextIO | None = None, level: int = logging.INFO) -> Iterator[None]:
    """Print the package's records of ``level`` and above (INFO; DEBUG adds a line per epoch), bare,
    to ``stream`` (standard output) while the block runs: the command line's own output."""
    logger = logging.getLogger(PACKAGE)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.set_name(_CONSOLE)
    handler.setLevel(level)  # a run's own log may ask its loggers for more (``kept``)
    handler.setFormatter(_Folded("%(message)s"))
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


class _Kept(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def kept() -> Iterator[list[str]]:
    """Every line the package logs while the block runs, those of debug level too (a network's line
    per epoch): a run folder keeps them in its log, whatever the terminal shows."""
    lines: list[str] = []
    logger, handler = logging.getLogger(PACKAGE), _Kept(lines)
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


def watched() -> bool:
    """Whether the package's records go to a terminal, where a progress bar reads better than lines."""
    for handler in logging.getLogger(PACKAGE).handlers:
        if handler.get_name() == _CONSOLE:
            isatty = getattr(handler.stream, "isatty", None)
            return bool(isatty and isatty())
    return False
