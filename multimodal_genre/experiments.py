"""What the commands run: one model on one split, or several models compared on the same splits.

A comparison uses one grouped hold-out split, or grouped stratified K-fold with mean and standard
deviation across folds: published single-split figures move by several points with the split, so
K-fold is the honest number. Each model of each fold writes its own run folder; the comparison
folder adds ``comparison.{md,csv}``, ``per_genre_f1.{csv,png}`` (and ``folds.csv`` for K-fold).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from multimodal_genre import progress
from multimodal_genre.checkpoints import discard_kept, kept_folder
from multimodal_genre.config import Config
from multimodal_genre.data import GENRES, GenreDataset, Split, holdout_split, kfold_splits
from multimodal_genre.ensembles import fit_ensemble, fit_out_of_fold
from multimodal_genre.errors import ConfigError, DataError, DivergedError, RunError
from multimodal_genre.evaluation import METRICS
from multimodal_genre.families import TrainedModel, family
from multimodal_genre.files import read_folder, write_csv, writing_folder
from multimodal_genre.plots import plot_per_genre_f1
from multimodal_genre.records import ComparisonRecord, DatasetRecord, RecipeRecord, SplitRecord, write_record
from multimodal_genre.report.render import Block, Heading, Image, Items, Paragraph, Table, write_markdown
from multimodal_genre.runs import finished_run_scores, write_config, write_model_run, write_run_files
from multimodal_genre.settings import Settings
from multimodal_genre.stacking import build_stack
from multimodal_genre.workers import Workers

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ComparisonResult:
    directory: Path
    scores: pd.DataFrame  # one row per (fold, model) of the models that trained in every fold
    seconds: float
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # "mlp, fold 2/5" -> why it failed


def train_model(
    name: str,
    config: Config,
    dataset: GenreDataset,
    split: Split,
    callbacks: Sequence[Any] = (),
    workers: Workers | None = None,
    checkpoints: Path | None = None,
    step_logs: Path | None = None,
) -> TrainedModel:
    """Train the model ``name`` as ``config`` describes it, by its family. ``callbacks`` (the family's
    own kind) see every epoch or round; tuning uses them for pruning. ``workers`` (entered) train an
    ensemble's members side by side; else ``checkpoints`` keeps each as it finishes. ``step_logs``
    gets each step for TensorBoard, where the family writes them. With an empty validation side
    there is no early stopping: the model trains for its configured length."""
    missing = sorted(set(range(len(GENRES))) - set(dataset.labels[split.train].tolist()))
    if missing:
        names = ", ".join(GENRES[code] for code in missing)
        raise DataError(f"{dataset.root}: the training split has no tracks of {names}; every genre needs some")
    owner = family(name)
    settings = _section(config, name)
    ensemble = owner.ensemble(settings)
    if ensemble is None:
        watching = [*callbacks, *(owner.step_loggers(step_logs) if step_logs else ())]
        return owner.fit(settings, dataset, split, config.seed, watching)
    single, plan = ensemble
    return fit_ensemble(
        owner,
        single,
        plan.members,
        plan.subsets,
        dataset,
        split,
        config.seed,
        callbacks,
        workers,
        checkpoints,
        step_logs,
    )


def _section(config: Config, name: str) -> Settings:
    """``name``'s settings in ``config``; a model the config has no section for is an error naming it."""
    if name not in config.models:
        raise ConfigError(f"the config has no section for model '{name}' (add one under models: {name})")
    return config.models[name]


def run_model(
    name: str,
    dataset: GenreDataset,
    config: Config,
    split: Split,
    out: Path,
    fold: tuple[int, int] | None = None,
    command: str | None = None,
    recipe: RecipeRecord | None = None,
    out_of_fold: int | None = None,
    workers: Workers | None = None,
    checkpoints: Path | None = None,
    tensorboard: bool = False,
) -> dict[str, float]:
    """Train ``name`` on ``split``, score it on the test side, write its run folder ``out`` and log a
    summary line; return the test scores. ``fold`` is (index, count) for a K-fold split. With
    ``out_of_fold`` (a count of inner folds), the run also gets out-of-fold predictions of its
    training rows for a stack: a fold ensemble has them, any other model trains that many more times.
    ``workers`` (entered) train an ensemble's members side by side; else the models that make up one
    run (members, inner folds) are kept in ``checkpoints`` as each finishes, for ``--resume``. With
    ``tensorboard``, the run folder gets the training's steps as TensorBoard reads them (``tensorboard/``)."""
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-") as scratch:
        step_logs = Path(scratch) / "tensorboard" if tensorboard else None
        trained = train_model(
            name, config, dataset, split, workers=workers, checkpoints=checkpoints, step_logs=step_logs
        )
        if out_of_fold and trained.out_of_fold is None:
            started = time.perf_counter()
            owner, settings = family(name), config.models[name]
            predictions = fit_out_of_fold(owner, settings, dataset, split, config.seed, out_of_fold, checkpoints)
            spent = time.perf_counter() - started
            trained = dataclasses.replace(trained, out_of_fold=predictions, seconds=trained.seconds + spent)
        probabilities = trained.predict_proba(dataset.images[split.test], dataset.features[split.test])
        with writing_folder(out) as partial:
            if step_logs is not None and step_logs.is_dir():
                shutil.copytree(step_logs, partial / step_logs.name)
            return write_trained_run(trained, probabilities, dataset, config, split, partial, fold, command, recipe)


def run_stack(
    name: str,
    dataset: GenreDataset,
    config: Config,
    split: Split,
    out: Path,
    fold: tuple[int, int] | None = None,
    command: str | None = None,
    recipe: RecipeRecord | None = None,
) -> dict[str, float]:
    """Build the stack ``name`` from its members' runs beside ``out`` and write its run folder ``out``
    (whole, or not at all); return its test scores."""
    trained, probabilities = build_stack(name, config.models[name], out.parent, dataset, split)
    with writing_folder(out) as partial:
        return write_trained_run(trained, probabilities, dataset, config, split, partial, fold, command, recipe)


def write_trained_run(
    trained: TrainedModel,
    probabilities: np.ndarray,
    dataset: GenreDataset,
    config: Config,
    split: Split,
    out: Path,
    fold: tuple[int, int] | None,
    command: str | None,
    recipe: RecipeRecord | None,
) -> dict[str, float]:
    """Write the run folder of ``trained`` and log its summary line; return its test scores."""
    name = trained.name
    split_record = SplitRecord.of(split, config.split.seed, fold)
    scores = write_model_run(out, trained, config, dataset, split, probabilities, split_record, command, recipe)
    logger.info(
        f"{name:<8} {_where(fold)}: macro-F1 {scores['macro_f1']:.3f}, accuracy {scores['accuracy']:.3f} "
        f"on {len(split.test)} test tracks; {len(trained.history)} {trained.unit}s (kept {trained.best_epoch}), "
        f"{trained.seconds:.0f} s"
    )
    return scores


def run_comparison(
    dataset: GenreDataset,
    config: Config,
    out: Path,
    models: Sequence[str] | None = None,
    folds: int | None = None,
    command: str | None = None,
    recipe: RecipeRecord | None = None,
    resume: bool = False,
    workers: Workers | None = None,
    tensorboard: bool = False,
) -> ComparisonResult:
    """Train ``models`` (default: every model of ``config``) on the hold-out split (``folds`` None) or
    on each of ``folds`` grouped folds; ``recipe`` (the published system ``config`` came from) is
    recorded in every run folder. The trainings run on ``workers`` (entered; default: one at a time
    in this process); each run folder appears, whole, when its training ends. With ``resume``, model
    runs that already finished in ``out`` are kept, not trained again: a K-fold comparison takes
    hours on a CPU, and an interruption should cost the runs in progress at most. The wall time
    recorded then counts the kept runs' training time. The models that make up one run (an
    ensemble's members, a stack member's inner folds) are kept too as each finishes, unless the
    workers are a cluster's, which may not share this disk. A training that diverges fails alone: the
    others go on, and its model is left out of the tables and listed as failed. With ``tensorboard``,
    each run folder holds its training's steps for TensorBoard (``tensorboard/``)."""
    models = list(models or config.models)
    stacks = [name for name in models if family(name).built_from_runs]
    out_of_fold = _stacked_members(models, stacks, config)
    if resume:
        check_resumable(out)
    started = time.perf_counter()
    failed: dict[tuple[int, str], str] = {}
    splits = _splits(dataset, config, folds)
    scores, kept_seconds = _kept_runs(out, models, splits, folds, config, dataset) if resume else ({}, 0.0)
    to_train = [
        (index, split, name, _run_dir(out, name, _fold(index, folds)))
        for index, split in enumerate(splits, start=1)
        for name in models
        if name not in stacks and (index, name) not in scores
    ]
    with contextlib.ExitStack() as stack:
        workers = workers or stack.enter_context(Workers())
        stack.enter_context(progress.job(len(to_train), "training"))
        shared = workers.share(dataset)
        pending: dict[concurrent.futures.Future, tuple[int, str, Path]] = {}
        for index, split, name, run_dir in to_train:
            members = None if workers.cluster else kept_folder(run_dir.absolute())
            fold = _fold(index, folds)
            task = (name, shared, config, split, fold, command, recipe, out_of_fold.get(name), members, tensorboard)
            pending[workers.submit(run_model_files, *task)] = (index, name, run_dir)
            _collect(pending, scores, failed, folds, block=False)
        _collect(pending, scores, failed, folds, block=True)
    for index, split in enumerate(splits, start=1):
        fold = _fold(index, folds)
        for name in stacks:
            lost = [member for member in family(name).members(config.models[name]) if (index, member) in failed]
            if lost:
                failed[index, name] = f"its member {lost[0]} failed"
            elif (index, name) not in scores:
                scores[index, name] = run_stack(
                    name, dataset, config, split, _run_dir(out, name, fold), fold, command, recipe
                )
    whole = {name for name in models if not any(key[1] == name for key in failed)}
    rows = [
        {"fold": index, "model": name, **scores[index, name]}
        for index, name in sorted(scores, key=_order(models))
        if name in whole
    ]
    result = ComparisonResult(
        out,
        pd.DataFrame(rows),
        time.perf_counter() - started + kept_seconds,
        {f"{name}, {_where(_fold(index, folds))}": why for (index, name), why in failed.items()},
    )
    _write_comparison(result, folds, dataset, config, command, recipe)
    return result


def _kept_runs(
    out: Path, models: Sequence[str], splits: Sequence[Split], folds: int | None, config: Config, dataset: GenreDataset
) -> tuple[dict[tuple[int, str], dict[str, float]], float]:
    """The test scores of the model runs that already finished in ``out``, by (fold index, model),
    and their summed training seconds."""
    scores: dict[tuple[int, str], dict[str, float]] = {}
    seconds = 0.0
    for index, split in enumerate(splits, start=1):
        for name in models:
            run_dir = _run_dir(out, name, _fold(index, folds))
            kept = finished_run_scores(run_dir, name, config, dataset, split)
            if kept is not None:
                scores[index, name], spent = kept
                seconds += spent
                _log_kept(name, _fold(index, folds), run_dir, scores[index, name])
    return scores, seconds


def check_resumable(out: Path) -> None:
    """A RunError unless ``out`` is a folder a comparison can go on in."""
    if not out.is_dir():
        raise RunError(f"{out}: no comparison to go on with (resume names the folder of an unfinished one)")


def run_model_files(
    name: str,
    dataset: GenreDataset,
    config: Config,
    split: Split,
    fold: tuple[int, int] | None,
    command: str | None,
    recipe: RecipeRecord | None,
    out_of_fold: int | None = None,
    checkpoints: Path | None = None,
    tensorboard: bool = False,
) -> tuple[dict[str, float], dict[str, bytes]]:
    """``run_model`` in a scratch folder; the run folder's files come back with the test scores, so a
    worker on another machine needs no disk shared with the one that asked (``checkpoints`` does:
    None on a cluster)."""
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-") as scratch:
        run_dir = Path(scratch) / name
        scores = run_model(
            name, dataset, config, split, run_dir, fold, command, recipe, out_of_fold, None, checkpoints, tensorboard
        )
        return scores, read_folder(run_dir)


def _stacked_members(models: Sequence[str], stacks: Sequence[str], config: Config) -> dict[str, int]:
    """Each model a stack of ``models`` averages -> the inner folds of its out-of-fold predictions."""
    wanted: dict[str, int] = {}
    for stack in stacks:
        settings = _section(config, stack)
        for member in family(stack).members(settings):
            if member not in models:
                raise ConfigError(f"models.{stack}.members: '{member}' must be compared too (add it to --models)")
            wanted.setdefault(member, settings.folds)
    return wanted


def _run_dir(out: Path, name: str, fold: tuple[int, int] | None) -> Path:
    return out / name if fold is None else out / f"fold{fold[0]}" / name


def _log_kept(name: str, fold: tuple[int, int] | None, run_dir: Path, scores: dict[str, float]) -> None:
    logger.info(f"{name:<8} {_where(fold)}: kept the finished run {run_dir}, macro-F1 {scores['macro_f1']:.3f}")


def _collect(
    pending: dict[concurrent.futures.Future, tuple[int, str, Path]],
    scores: dict[tuple[int, str], dict[str, float]],
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
            discard_kept(run_dir)
            progress.done("training", f"{name} {_where(_fold(index, folds))}")


def _order(models: Sequence[str]) -> Callable[[tuple[int, str]], tuple[int, int]]:
    """Rows by fold, then by the models' order, however the trainings finished."""
    return lambda key: (key[0], models.index(key[1]))


def _splits(dataset: GenreDataset, config: Config, folds: int | None) -> list[Split]:
    if folds is None:
        return [holdout_split(dataset.labels, dataset.groups, config.split)]
    return kfold_splits(dataset.labels, dataset.groups, dataclasses.replace(config.split, folds=folds))


def _fold(index: int, folds: int | None) -> tuple[int, int] | None:
    """(index, count) of a K-fold split; None for the hold-out split."""
    return None if folds is None else (index, folds)


def _where(fold: tuple[int, int] | None) -> str:
    return "hold-out split" if fold is None else f"fold {fold[0]}/{fold[1]}"


def _write_comparison(
    result: ComparisonResult,
    folds: int | None,
    dataset: GenreDataset,
    config: Config,
    command: str | None,
    recipe: RecipeRecord | None,
) -> None:
    """comparison.{csv,md}, per_genre_f1.{csv,png}, folds.csv for K-fold, config.yaml and run.json."""
    out = result.directory
    kind = "hold-out split" if folds is None else f"grouped stratified {folds}-fold cross-validation"
    what = "synthetic data" if dataset.synthetic else f"{dataset.root.name} ({len(dataset)} tracks)"
    synthetic = "**SYNTHETIC DATA: these figures say nothing about real music.**"
    spread = " (mean ± standard deviation over folds)" if folds else ""
    blocks: list[Block] = [
        Heading(1, f"Model comparison: {kind}"),
        *([Paragraph(synthetic)] if dataset.synthetic else []),
        Paragraph(f"Dataset `{dataset.root}`: {len(dataset)} tracks, fingerprint {dataset.fingerprint}."),
        Paragraph(f"Test figures{spread}; wall time {result.seconds:.0f} s."),
        *([Paragraph(f"Command: `{command}`")] if command else []),
    ]
    means = pd.DataFrame(columns=list(METRICS))
    if len(result.scores):
        overall, per_genre, means = _write_tables(result, folds, f"Per-genre F1, {kind}, {what}")
        blocks += [
            Table(overall),
            *([Paragraph(gain)] if (gain := _fusion_gain(means)) else []),
            Heading(2, "F1 per genre"),
            Table(per_genre),
            Image(out / "per_genre_f1.png", "Per-genre F1"),
        ]
    if result.failed:
        blocks += [
            Heading(2, "Failed trainings"),
            Paragraph("These models are left out of the tables above; their other folds' run folders are kept."),
            Items([f"{where}: {why}" for where, why in result.failed.items()]),
        ]
    write_markdown(out / "comparison.md", blocks)
    write_config(out, config)
    record = ComparisonRecord.new(
        command=command,
        recipe=recipe,
        dataset=DatasetRecord.of(dataset),
        models=tuple(means.index),
        folds=folds,
        seconds=round(result.seconds, 1),
    )
    write_record(out, record)


def _write_tables(
    result: ComparisonResult, folds: int | None, title: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """comparison.csv, per_genre_f1.{csv,png} (the chart titled ``title``) and, for K-fold, folds.csv;
    returns the two tables as text (means, ± standard deviations over folds) and the mean metrics."""
    out, table = result.directory, result.scores
    models = list(dict.fromkeys(table["model"]))
    genre_columns = [f"f1_{genre}" for genre in GENRES]
    grouped = table.groupby("model", sort=False)
    means = grouped[list(METRICS)].mean().loc[models]
    genre_means = grouped[genre_columns].mean().loc[models].T.set_axis(list(GENRES))
    if folds is None:
        write_csv(out / "comparison.csv", means)
        write_csv(out / "per_genre_f1.csv", genre_means, index_label="genre")
        overall, per_genre, genre_stds = means.map(_three), genre_means.map(_three), None
    else:
        write_csv(out / "folds.csv", table, index=False)
        stds = grouped[list(METRICS)].std(ddof=1).loc[models]
        genre_stds = grouped[genre_columns].std(ddof=1).loc[models].T.set_axis(list(GENRES))
        write_csv(out / "comparison.csv", pd.concat([means.add_suffix("_mean"), stds.add_suffix("_std")], axis=1))
        genre_table = pd.concat([genre_means.add_suffix("_mean"), genre_stds.add_suffix("_std")], axis=1)
        write_csv(out / "per_genre_f1.csv", genre_table, index_label="genre")
        overall, per_genre = _with_spread(means, stds), _with_spread(genre_means, genre_stds)
    plot_per_genre_f1(out / "per_genre_f1.png", genre_means, genre_stds, title)
    return overall, per_genre, means


def _three(value: float) -> str:
    return f"{value:.3f}"


def _with_spread(means: pd.DataFrame, stds: pd.DataFrame) -> pd.DataFrame:
    return means.map(_three) + " ± " + stds.map(_three)


def _fusion_gain(means: pd.DataFrame) -> str:
    """How much the models that read both views beat the best model that reads one."""
    views = {name: len(family(name).views) for name in means.index}
    fused = [name for name, count in views.items() if count > 1]
    singles = [name for name, count in views.items() if count == 1]
    if not fused or not singles:
        return ""
    best = means.loc[singles, "macro_f1"].idxmax()
    return " ".join(
        f"{name.capitalize()} minus the best single-view model ({best}): "
        f"{means.loc[name, 'macro_f1'] - means.loc[best, 'macro_f1']:+.3f} macro-F1."
        for name in fused
    )
