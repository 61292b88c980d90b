"""Several models compared on the same splits: one grouped hold-out split, or grouped stratified K-fold.

Published single-split figures move by several points with the split, so K-fold, with mean and
standard deviation across folds, is the honest number. Each model of each fold writes its own run
folder as its training ends; stacks are fitted last, in each fold, on their base models' runs. The
comparison folder adds the tables and figure that ``comparison_tables.py`` makes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from multimodal_genre import progress
from multimodal_genre.checkpoints import checkpoint_folder, discard_checkpoints
from multimodal_genre.comparison_tables import ComparisonResult, write_comparison_tables
from multimodal_genre.config import Config
from multimodal_genre.data import GenreDataset, Split, kfold_splits, split_for
from multimodal_genre.errors import ConfigError, DivergedError, RunError
from multimodal_genre.families import family
from multimodal_genre.files import writing_folder
from multimodal_genre.records import ComparisonRecord, DatasetRecord, Provenance, write_record
from multimodal_genre.runs import finished_run_scores, write_config, write_run_files
from multimodal_genre.stacking import Base, check_bases, fit_stack
from multimodal_genre.training import fitting_split, run_model_files, section, where, write_trained_run
from multimodal_genre.views import Prepared, prepare
from multimodal_genre.workers import Workers

logger = logging.getLogger(__name__)

Scores = dict[tuple[int, str], dict[str, float]]  # (fold index, model) -> test scores


def run_comparison(
    dataset: GenreDataset,
    config: Config,
    out: Path,
    models: Sequence[str] | None = None,
    folds: int | None = None,
    provenance: Provenance = Provenance(),
    resume: bool = False,
    workers: Workers | None = None,
    tensorboard: bool = False,
) -> ComparisonResult:
    """Train ``models`` (default: every model of ``config``) on the hold-out split (``folds`` None) or
    on each of ``folds`` grouped folds, ``provenance`` recorded in every run folder with its fold. The
    trainings run on ``workers`` (entered; default: one at a time in this process); each run folder
    appears, whole, when its training ends. With ``resume``, model runs that already finished in
    ``out`` are taken back, not trained again: a K-fold comparison takes hours on a CPU, and an
    interruption should cost the runs in progress at most; the wall time recorded then counts their
    training time. A bag's members are checkpointed as each finishes, unless the workers are a
    cluster's, which may not share this disk. A training that diverges fails alone: the others go on,
    its model left out of the tables and listed as failed. With ``tensorboard``, each run folder holds
    its training's steps (``tensorboard/``)."""
    models = list(models or config.models)
    stacks = [name for name in models if family(name).composite]
    _check_stacks(models, stacks, config)
    if resume:
        check_resumable(out)
    started = time.perf_counter()
    prepared = prepare(dataset, config, models)
    dataset, config = prepared.dataset, prepared.config
    splits = _splits(dataset, config, folds)
    setup = Setup(prepared, out, folds, provenance, tensorboard)
    scores, reused_seconds = _finished_runs(setup, models, splits) if resume else ({}, 0.0)
    failed = _train(setup, splits, [name for name in models if name not in stacks], scores, workers)
    _build_stacks(setup, splits, stacks, scores, failed)
    seconds = time.perf_counter() - started + reused_seconds
    result = _result(setup, models, scores, failed, seconds)
    compared = write_comparison_tables(
        result, folds, dataset, provenance.command, config.split.lists, len(splits[0].test)
    )
    write_config(out, config)
    record = ComparisonRecord.new(
        command=provenance.command,
        recipe=provenance.recipe,
        dataset=DatasetRecord.of(dataset),
        models=compared,
        folds=folds,
        seconds=round(seconds, 1),
    )
    write_record(out, record)
    return result


@dataclasses.dataclass(frozen=True)
class Setup:
    """What every run of one comparison shares."""

    prepared: Prepared
    out: Path
    folds: int | None
    provenance: Provenance  # the comparison's; each run's adds its fold
    tensorboard: bool

    def provenance_of(self, index: int) -> Provenance:
        return self.provenance.in_fold(_fold(index, self.folds))

    def run_dir(self, index: int, name: str) -> Path:
        return self.out / name if self.folds is None else self.out / f"fold{index}" / name


def _result(
    setup: Setup, models: Sequence[str], scores: Scores, failed: dict[tuple[int, str], str], seconds: float
) -> ComparisonResult:
    """The scores of the models that trained in every fold, by fold then in the models' order, and
    why the others failed."""
    whole = {name for name in models if not any(key[1] == name for key in failed)}
    rows = [
        {"fold": index, "model": name, **scores[index, name]}
        for index, name in sorted(scores, key=_order(models))
        if name in whole
    ]
    reasons = {f"{name}, {where(_fold(index, setup.folds))}": why for (index, name), why in failed.items()}
    return ComparisonResult(setup.out, pd.DataFrame(rows), seconds, reasons)


def _train(
    setup: Setup, splits: Sequence[Split], models: Sequence[str], scores: Scores, workers: Workers | None
) -> dict[tuple[int, str], str]:
    """Train every model of every split that has no finished run yet; returns why any failed."""
    to_train = [
        (index, split, name)
        for index, split in enumerate(splits, start=1)
        for name in models
        if (index, name) not in scores
    ]
    failed: dict[tuple[int, str], str] = {}
    with contextlib.ExitStack() as stack:
        workers = workers or stack.enter_context(Workers())
        costs = {name: _cost(setup.prepared.config, name) for name in models}
        stack.enter_context(progress.job([name for _, _, name in to_train], "training", costs=costs))
        shared = workers.share(setup.prepared)
        pending: dict[concurrent.futures.Future, tuple[int, str, Path]] = {}
        for index, split, name in to_train:
            run_dir = setup.run_dir(index, name)
            checkpoints = None if workers.cluster else checkpoint_folder(run_dir.absolute())
            task = (name, shared, split, setup.provenance_of(index), checkpoints, setup.tensorboard)
            pending[workers.submit(run_model_files, *task)] = (index, name, run_dir)
            _collect(pending, scores, failed, setup.folds, block=False)
        _collect(pending, scores, failed, setup.folds, block=True)
    return failed


def _build_stacks(
    setup: Setup, splits: Sequence[Split], stacks: Sequence[str], scores: Scores, failed: dict[tuple[int, str], str]
) -> None:
    """Each stack of each split, from its base models' runs (a stack whose base model failed fails too)."""
    dataset, config = setup.prepared.dataset, setup.prepared.config
    for index, split in enumerate(splits, start=1):
        for name in stacks:
            bases = family(name).built_from(config.models[name])
            lost = [base for base in bases if (index, base) in failed]
            if lost:
                failed[index, name] = f"its base model {lost[0]} failed"
            elif (index, name) not in scores:
                run_dir = setup.run_dir(index, name)
                pool = np.union1d(split.train, split.validation)
                runs = {base: Base.read(run_dir.parent / base, dataset, pool) for base in bases}
                trained = fit_stack(name, config.models[name], runs, dataset, config.seed)
                with writing_folder(run_dir) as partial:
                    scores[index, name] = write_trained_run(
                        trained, dataset, config, split, partial, setup.provenance_of(index)
                    )


def _finished_runs(setup: Setup, models: Sequence[str], splits: Sequence[Split]) -> tuple[Scores, float]:
    """The test scores of the model runs that already finished in the comparison's folder, by (fold
    index, model), and their summed training seconds."""
    scores: Scores = {}
    seconds = 0.0
    dataset, config = setup.prepared.dataset, setup.prepared.config
    for index, split in enumerate(splits, start=1):
        for name in models:
            run_dir = setup.run_dir(index, name)
            fitted = fitting_split(family(name), section(config, name), split)  # the sides its split.csv has
            finished = finished_run_scores(run_dir, name, config, dataset, fitted)
            if finished is not None:
                scores[index, name], spent = finished
                seconds += spent
                logger.info(
                    f"{name:<8} {where(_fold(index, setup.folds))}: took back the finished run {run_dir}, "
                    f"macro-F1 {scores[index, name]['macro_f1']:.3f}"
                )
    return scores, seconds


def check_resumable(out: Path) -> None:
    """A RunError unless ``out`` is a folder a comparison can go on in."""
    if not out.is_dir():
        raise RunError(f"{out}: no comparison to go on with (resume names the folder of an unfinished one)")


def _check_stacks(models: Sequence[str], stacks: Sequence[str], config: Config) -> None:
    """Every base model of a stack is compared too (the stack is fitted on its runs), and fold-bagged."""
    for stack in stacks:
        settings = section(config, stack)
        for base in family(stack).built_from(settings):
            if base not in models:
                raise ConfigError(f"models.{stack}.base_models: '{base}' must be compared too (add it to --models)")
        check_bases(stack, settings, config.bagging)


def _collect(
    pending: dict[concurrent.futures.Future, tuple[int, str, Path]],
    scores: Scores,
    failed: dict[tuple[int, str], str],
    folds: int | None,
    block: bool,
) -> None:
    """Write the run folders of the trainings that ended (all of them, with ``block``) and note their
    scores, or why they diverged; each counts as done in the job's progress."""
    while pending:
        done, _ = concurrent.futures.wait(pending, timeout=None if block else 0, return_when="FIRST_COMPLETED")
        if not done:
            return
        for future in done:
            index, name, run_dir = pending.pop(future)
            try:
                scores[index, name], files = future.result()
            except DivergedError as error:
                failed[index, name] = str(error)
                logger.warning(f"{error} ({run_dir} not written)")
            else:
                write_run_files(run_dir, files)
            discard_checkpoints(run_dir)
            progress.done("training", f"{name} {where(_fold(index, folds))}", kind=name)


def _cost(config: Config, name: str) -> float:
    """A training's cost before any of its model has finished, relative to a one-model training on
    the features: a network that reads pictures takes about ten times longer on 2 cores, and a bag
    trains each member."""
    plan = config.bagging.get(name)
    return (10.0 if "image" in family(name).views else 1.0) * (plan.members if plan else 1)


def _order(models: Sequence[str]) -> Callable[[tuple[int, str]], tuple[int, int]]:
    """Rows by fold, then by the models' order, however the trainings finished."""
    return lambda key: (key[0], models.index(key[1]))


def _splits(dataset: GenreDataset, config: Config, folds: int | None) -> list[Split]:
    if folds is None:
        return [split_for(dataset, config.split)]
    if config.split.lists is not None:
        raise ConfigError(f"--folds: split.lists ({config.split.lists}) gives one split, which has no folds")
    return kfold_splits(dataset.labels, dataset.groups, dataclasses.replace(config.split, folds=folds))


def _fold(index: int, folds: int | None) -> tuple[int, int] | None:
    """(index, count) of a K-fold split; None for the hold-out split."""
    return None if folds is None else (index, folds)
