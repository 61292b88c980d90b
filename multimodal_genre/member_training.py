"""Where a bag's members train: one after another in this process, each saved as a checkpoint as it
finishes (``--resume`` takes it back), or side by side on workers, each coming back as the files of
its model. Either way each member counts as done in the job's progress.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from multimodal_genre import progress
from multimodal_genre.checkpoints import restored_or_fit
from multimodal_genre.data import GenreDataset
from multimodal_genre.families.bag import FitMembers, MemberTask
from multimodal_genre.families.base import Family, TrainedModel, fit_split
from multimodal_genre.files import read_folder, write_folder
from multimodal_genre.seen import Seen
from multimodal_genre.workers import Workers

logger = logging.getLogger(__name__)


def members_fitter(
    workers: Workers | None = None, checkpoints: Path | None = None, step_logs: Path | None = None
) -> FitMembers:
    """How ``fit_bag`` trains members: on ``workers`` (entered) where they do not run here (no
    callbacks then); else in turn, member k checkpointed in ``checkpoints/member<k>`` and writing its
    steps for TensorBoard into ``step_logs/member<k>``."""

    def fit_members(
        family: Family, tasks: Sequence[MemberTask], dataset: GenreDataset, callbacks: Sequence[Any] = ()
    ) -> list[TrainedModel]:
        if workers is not None and not workers.here:
            if callbacks:
                raise ValueError("a bag whose members train on workers cannot take callbacks")
            return _fit_on_workers(family, tasks, dataset, workers)
        return [
            _fit_member(
                family,
                task,
                dataset,
                len(tasks),
                callbacks if task.index == 1 else (),
                checkpoints and checkpoints / f"member{task.index}",
                step_logs and step_logs / f"member{task.index}",
            )
            for task in tasks
        ]

    return fit_members


def _fit_member(
    family: Family,
    task: MemberTask,
    dataset: GenreDataset,
    members: int,
    callbacks: Sequence[Any] = (),
    checkpoint: Path | None = None,
    step_logs: Path | None = None,
) -> TrainedModel:
    split = task.split
    logger.info(
        f"{family.name} member {task.index}/{members}: {len(split.train)} training rows, "
        f"{len(split.validation)} validation rows"
    )
    watching = [*callbacks, *(family.step_loggers(step_logs) if step_logs else ())]
    fit = functools.partial(fit_split, family, task.settings, dataset, split, task.seed, watching)
    trained = restored_or_fit(checkpoint, family, task.settings, dataset, split, task.seed, fit)
    progress.done("member", f"{family.name} member {task.index}/{members}")
    return trained


@dataclasses.dataclass(frozen=True)
class _MemberFiles:
    """A member trained on a worker: its model as the files ``save`` wrote, and what its training did."""

    files: dict[str, bytes]
    history: pd.DataFrame
    kept: int | None
    seconds: float
    seen: Seen


def _fit_on_workers(
    family: Family, tasks: Sequence[MemberTask], dataset: GenreDataset, workers: Workers
) -> list[TrainedModel]:
    shared = workers.share(dataset)
    futures = [workers.submit(_fit_member_files, family, task, shared, len(tasks)) for task in tasks]
    trained = []
    for index, future in enumerate(futures, start=1):
        trained.append(_member_from_files(family, future.result()))
        progress.done("member", f"{family.name} member {index}/{len(futures)}")
    return trained


def _fit_member_files(family: Family, task: MemberTask, dataset: GenreDataset, members: int) -> _MemberFiles:
    """A worker's task: one member trained, its model saved and read back as bytes, so that the worker
    needs no disk shared with the process that averages the members."""
    trained = _fit_member(family, task, dataset, members)
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-") as scratch:
        trained.save(Path(scratch))
        files = read_folder(Path(scratch))
    return _MemberFiles(files, trained.history, trained.kept, trained.seconds, trained.seen)


def _member_from_files(family: Family, member: _MemberFiles) -> TrainedModel:
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-") as scratch:
        write_folder(Path(scratch), member.files)
        model = family.load(Path(scratch))
    return TrainedModel(family, model, member.history, member.kept, member.seconds, member.seen)
