"""Training one model as the config describes it, scoring it once on its split's test side, and
writing its run folder.

A model's family trains it; a model with ``bagging`` in its section trains as a bag of the family's
models (``families/bag.py``), whose members train here one after another or side by side on workers
(``members.py``). The test side is scored through ``seen.py``'s door, so a model is never scored on a
track it has seen.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from multimodal_genre import log
from multimodal_genre.config import Config
from multimodal_genre.data import GENRES, GenreDataset, Split
from multimodal_genre.errors import ConfigError, DataError
from multimodal_genre.families import Family, TrainedModel, family
from multimodal_genre.families.bag import fit_bag
from multimodal_genre.families.base import fit_split
from multimodal_genre.families.stack.family import StackConfig
from multimodal_genre.files import read_folder, writing_folder
from multimodal_genre.member_training import members_fitter
from multimodal_genre.records import Provenance, SplitRecord
from multimodal_genre.runs import write_model_run
from multimodal_genre.seen import unseen_probabilities
from multimodal_genre.settings import Settings, replaced
from multimodal_genre.stacking import Base, check_bases, fit_stack
from multimodal_genre.views import Prepared
from multimodal_genre.workers import Workers

logger = logging.getLogger(__name__)
TRAINING_LOG = "training.log"  # in a run folder: every line its training logged, a network's per epoch


def train_model(
    name: str,
    prepared: Prepared,
    split: Split,
    callbacks: Sequence[Any] = (),
    *,
    lengths: Sequence[int] | None = None,
    workers: Workers | None = None,
    checkpoints: Path | None = None,
    step_logs: Path | None = None,
) -> TrainedModel:
    """Train the model ``name`` as ``prepared``'s config describes it. ``callbacks (the family's own kind) see
    every step (of a bag's first member); tuning prunes through them. ``lengths`` fixes how many
    steps each single model trains (one per member of a bag): a re-train at the lengths a trial kept.
    A bag's members train on ``workers`` (entered) or in turn, each checkpointed in ``checkpoints``;
    ``step_logs`` gets each step for TensorBoard, where the family writes them. With an empty
    validation side there is no early stopping: the model trains for its configured length."""
    dataset, config = prepared.dataset, prepared.config
    _check_genres(dataset, split)
    prepared.check_views(name)
    owner, settings, plan = family(name), section(config, name), config.bagging.get(name)
    count = 1 if plan is None else plan.members
    if lengths is not None and len(lengths) != count:
        raise ValueError(f"{name}: {len(lengths)} lengths for {count} model(s)")
    fixed = lengths is not None and owner.length_setting is not None
    each = [replaced(settings, owner.length_setting, n) for n in lengths] if fixed else [settings] * count
    if owner.built_from(settings):
        return _train_stack(name, each[0], prepared, split, workers, checkpoints)
    if plan is None:
        watching = [*callbacks, *(owner.step_loggers(step_logs) if step_logs else ())]
        return fit_split(owner, each[0], dataset, split, config.seed, watching)
    fit_members = members_fitter(workers, checkpoints, step_logs)
    return fit_bag(owner, plan, each, dataset, split, config.seed, fit_members, callbacks)


def _train_stack(
    name: str,
    settings: StackConfig,
    prepared: Prepared,
    split: Split,
    workers: Workers | None,
    checkpoints: Path | None,
) -> TrainedModel:
    """A stack's base models, each trained on ``split`` as ``prepared``'s config bags it (its members
    checkpointed in ``checkpoints/<base>``), then its weights on their out-of-fold predictions."""
    check_bases(name, settings, prepared.config.bagging)
    bases = {}
    for base in settings.base_models:
        folder = checkpoints and checkpoints / base
        bases[base] = Base.of(train_model(base, prepared, split, workers=workers, checkpoints=folder))
    return fit_stack(name, settings, bases, prepared.dataset, prepared.config.seed)


def section(config: Config, name: str) -> Settings:
    """``name``'s settings in ``config``; a model the config has no section for is an error naming it."""
    if name not in config.models:
        raise ConfigError(f"the config has no section for model '{name}' (add one under models: {name})")
    return config.models[name]


def _check_genres(dataset: GenreDataset, split: Split) -> None:
    missing = sorted(set(range(len(GENRES))) - set(dataset.labels[split.train].tolist()))
    if missing:
        names = ", ".join(GENRES[code] for code in missing)
        raise DataError(f"{dataset.root}: the training split has no tracks of {names}; every genre needs some")


def run_model(
    name: str,
    prepared: Prepared,
    split: Split,
    out: Path,
    provenance: Provenance = Provenance(),
    workers: Workers | None = None,
    checkpoints: Path | None = None,
    tensorboard: bool = False,
) -> dict[str, float]:
    """Train ``name`` on ``split``, score it on the test side, write its run folder ``out`` (whole, or
    not at all) and log a summary line; return the test scores. ``workers`` (entered) train a bag's
    members side by side; else they are checkpointed in ``checkpoints`` as each finishes, for
    ``--resume``. With ``tensorboard``, the run folder gets the training's steps as TensorBoard reads
    them (``tensorboard/``)."""
    split = fitting_split(family(name), section(prepared.config, name), split)
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-") as scratch, log.kept() as lines:
        step_logs = Path(scratch) / "tensorboard" if tensorboard else None
        trained = train_model(name, prepared, split, workers=workers, checkpoints=checkpoints, step_logs=step_logs)
        with writing_folder(out) as partial:
            if step_logs is not None and step_logs.is_dir():
                shutil.copytree(step_logs, partial / step_logs.name)
            scores = write_trained_run(trained, prepared.dataset, prepared.config, split, partial, provenance)
            (partial / TRAINING_LOG).write_text("\n".join(lines) + "\n")
            return scores


def fitting_split(owner: Family, settings: Settings, split: Split) -> Split:
    """``split`` as a run of ``owner`` with ``settings`` trains on it: a model that stops early on
    nothing (an SVM, a network without early stopping) fits on the validation rows too, rather than
    leave them unused; the test side stays as it is."""
    if owner.watches_validation(settings) or not len(split.validation):
        return split
    return Split(np.union1d(split.train, split.validation), split.validation[:0], split.test)


def write_trained_run(
    trained: TrainedModel,
    dataset: GenreDataset,
    config: Config,
    split: Split,
    out: Path,
    provenance: Provenance,
) -> dict[str, float]:
    """Score ``trained`` on the test side of ``split`` (tracks it has not seen), write its run folder
    and log its summary line; return its test scores."""
    probabilities = unseen_probabilities(trained, dataset, split.test)
    split_record = SplitRecord.of(split, config.split.seed, provenance.fold, config.split.lists)
    scores = write_model_run(out, trained, config, dataset, split, probabilities, split_record, provenance)
    logger.info(
        f"{trained.name:<8} {where(provenance.fold)}: macro-F1 {scores['macro_f1']:.3f}, accuracy "
        f"{scores['accuracy']:.3f} on {len(split.test)} test tracks; {_steps(trained)}, {trained.seconds:.0f} s"
    )
    return scores


def _steps(trained: TrainedModel) -> str:
    """How long it trained: ``40 epochs (kept 28)``, or for a bag each member's kept step."""
    if trained.kept is not None:
        return f"{len(trained.history)} {trained.unit}s (kept {trained.kept})"
    kept = ", ".join(str(single.kept) for single in trained.singles())
    return f"{len(trained.singles())} members, {len(trained.history)} {trained.unit}s (kept {kept})"


def run_model_files(
    name: str,
    prepared: Prepared,
    split: Split,
    provenance: Provenance,
    checkpoints: Path | None = None,
    tensorboard: bool = False,
) -> tuple[dict[str, float], dict[str, bytes]]:
    """``run_model`` in a scratch folder; the run folder's files come back with the test scores, so a
    worker on another machine needs no disk shared with the one that asked (``checkpoints`` does:
    None on a cluster)."""
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-") as scratch:
        run_dir = Path(scratch) / name
        scores = run_model(name, prepared, split, run_dir, provenance, None, checkpoints, tensorboard)
        return scores, read_folder(run_dir)


def where(fold: tuple[int, int] | None) -> str:
    """A split in words: ``hold-out split`` or ``fold 2/5``."""
    return "hold-out split" if fold is None else f"fold {fold[0]}/{fold[1]}"
