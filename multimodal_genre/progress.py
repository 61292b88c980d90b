"""Progress over a whole job: trainings (members, files) done of the total, the time taken and an
estimate of the rest, from the pace so far.

A K-fold comparison runs for hours, and the lines per epoch say nothing of how far along the job is.
On a watched terminal the job's bar holds the top row of the screen: the terminal's scroll region is
set to the rows below it, so Keras' per-epoch bars scroll beneath it. Elsewhere (a log file) each
finished piece of work logs one line with the running estimate.

A command opens the job (``job``); the code that finishes a piece of it calls ``done`` with the
job's unit, and a piece of another unit (a bag's member inside a comparison's training) is
not counted.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TextIO

from multimodal_genre import log

logger = logging.getLogger(__name__)

REDRAW_SECONDS = 1.0
BAR_WIDTH = 24
_SAVE, _RESTORE, _CLEAR_LINE = "\x1b7", "\x1b8", "\x1b[2K"


class Job:
    """Pieces of work of one ``unit`` ("training", "member", "trial", "file"), counted as they
    finish. ``pieces`` is their number, or each one's kind (the model it trains) where kinds differ
    in cost; None is a total not known in advance (a study run for a time).

    The time left is each waiting piece's expected time, summed: the mean time of the finished
    pieces of its kind, or, before any of its kind has finished, the time per unit of ``costs``
    (relative costs by kind, 1 where not given) of the finished ones times its own cost. A piece's
    time is the time since the previous one finished, so pieces that run side by side share it.
    Between finishes the estimate counts down."""

    def __init__(
        self,
        pieces: int | Sequence[str] | None,
        unit: str,
        costs: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(pieces, int) and pieces < 0:
            raise ValueError(f"a job has at least 0 pieces of work, got {pieces}")
        kinds = [""] * pieces if isinstance(pieces, int) else list(pieces or [])
        self.total = None if pieces is None else len(kinds)
        self.unit, self.costs, self.clock = unit, dict(costs or {}), clock
        self.waiting = collections.Counter(kinds)
        self.spent: dict[str, list[float]] = {}
        self.finished = 0
        self.started = self.last = clock()

    def advance(self, kind: str = "") -> None:
        now = self.clock()
        self.spent.setdefault(kind, []).append(now - self.last)
        self.waiting[kind] -= 1
        self.finished, self.last = self.finished + 1, now

    def elapsed(self) -> float:
        return self.clock() - self.started

    def left(self) -> float | None:
        """Seconds still to go; None before the first piece finishes or without a total."""
        remaining = self._remaining()
        return None if remaining is None else max(0.0, remaining)

    def _remaining(self) -> float | None:
        """The waiting pieces' expected seconds less those spent since the last finish: below
        zero when the work takes longer than expected."""
        if not self.finished or self.total is None:
            return None
        units = sum(self._cost(kind) * len(times) for kind, times in self.spent.items())
        rate = sum(map(sum, self.spent.values())) / units  # seconds per unit of cost
        expected = {
            kind: sum(times) / len(times) if (times := self.spent.get(kind)) else rate * self._cost(kind)
            for kind in self.waiting
        }
        waiting = sum(expected[kind] * count for kind, count in self.waiting.items() if count > 0)
        return waiting - (self.clock() - self.last)

    def _cost(self, kind: str) -> float:
        return self.costs.get(kind, 1.0)

    def summary(self) -> str:
        """``3/10 trainings, 4:12 elapsed, about 9:48 left``."""
        if self.total is None:
            return f"{self.finished} {self.unit}s, {_clock(self.elapsed())} elapsed"
        remaining = self._remaining()
        if remaining is None:
            estimate = "estimating the time left"
        elif remaining <= -1 and self.finished < self.total:  # a second past the estimate, as the clock shows
            estimate = "taking longer than estimated"
        else:
            estimate = f"about {_clock(max(0.0, remaining))} left"
        return f"{self.finished}/{self.total} {self.unit}s, {_clock(self.elapsed())} elapsed, {estimate}"

    def bar(self) -> str:
        if self.total is None:
            return self.summary()
        filled = BAR_WIDTH * self.finished // self.total if self.total else BAR_WIDTH
        return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.summary()}"


_current: Job | None = None
_screen: TopRow | None = None


@contextlib.contextmanager
def job(
    pieces: int | Sequence[str] | None,
    unit: str,
    stream: TextIO | None = None,
    costs: Mapping[str, float] | None = None,
) -> Iterator[Job]:
    """Count a job of ``pieces`` of ``unit`` (see ``Job``) while the block runs: a bar on the top
    row of a watched terminal (``stream``, default standard output), else a logged line per piece.
    A job inside another (a training's members inside a comparison) is left to the outer one."""
    global _current, _screen
    if _current is not None:
        yield Job(pieces, unit, costs)
        return
    _current = Job(pieces, unit, costs)
    stream = stream or sys.stdout
    _screen = TopRow(stream, _current) if log.watched() and stream.isatty() else None
    try:
        with _screen or contextlib.nullcontext():
            yield _current
    finally:
        _current = _screen = None


def done(unit: str, what: str = "", kind: str = "") -> None:
    """One piece of ``unit`` (of ``kind``) finished, counted by the open job of that unit; ``what``
    names it for the log line (none without it: the caller logs its own, with ``summary``)."""
    if not counting(unit):
        return
    _current.advance(kind)
    if _screen is not None:
        _screen.draw()
    elif what:
        logger.info(f"{what} done: {_current.summary()}")


def counting(unit: str) -> bool:
    """Whether a job of ``unit`` is open here."""
    return _current is not None and _current.unit == unit


def shown(unit: str) -> bool:
    """Whether a job of ``unit`` is open here and drawn as a bar (a library's own bar would compete)."""
    return counting(unit) and _screen is not None


def summary(unit: str) -> str:
    """The open job's count and estimate, ``""`` where no job of ``unit`` is open."""
    return _current.summary() if counting(unit) else ""


class TopRow:
    """The job's bar drawn on a terminal's top row, above a scroll region holding everything else,
    redrawn every second so that the elapsed time moves while a training runs."""

    def __init__(self, stream: TextIO, counted: Job) -> None:
        self.stream, self.job = stream, counted
        self._stop = threading.Event()
        self._redraw = threading.Thread(target=self._keep_drawn, name="job-progress", daemon=True)

    def __enter__(self) -> TopRow:
        rows = shutil.get_terminal_size().lines
        # Scroll region: rows 2 to the last (the cursor goes home); writing resumes on the last row.
        self.stream.write(f"\n\x1b[2;{rows}r\x1b[{rows};1H")
        self.draw()
        self._redraw.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._redraw.join()
        self.draw()
        rows = shutil.get_terminal_size().lines
        self.stream.write(f"\x1b[r\x1b[{rows};1H\n")  # the whole screen scrolls again; the last bar stays
        self.stream.flush()

    def draw(self) -> None:
        self.stream.write(f"{_SAVE}\x1b[1;1H{_CLEAR_LINE}{self.job.bar()}{_RESTORE}")
        self.stream.flush()

    def _keep_drawn(self) -> None:
        while not self._stop.wait(REDRAW_SECONDS):
            self.draw()


def _clock(seconds: float) -> str:
    """``1:02:03`` or ``2:03``."""
    minutes, second = divmod(round(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"
