"""What a study maximises: the validation macro-F1 of a model trained with one trial's settings.

A trial trains on the training side of the outer split (or of each of its grouped inner folds) and is
scored, through ``seen.py``'s door, on rows no model of it trained on: the validation side, or a
fold-bagged model's out-of-fold predictions of its whole training pool, one score per held-out part.
Its value is the mean of those scores; each is kept, so that ``decision.py`` can weigh the winner
against the default fold by fold. The test side never enters a study.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from multimodal_genre.config import Config
from multimodal_genre.data import GenreDataset, Split, inner_splits, split_for
from multimodal_genre.errors import DivergedError
from multimodal_genre.evaluation import score
from multimodal_genre.families import family
from multimodal_genre.search import SearchConfig, apply, suggest
from multimodal_genre.seen import held_out
from multimodal_genre.settings import to_data
from multimodal_genre.training import train_model
from multimodal_genre.views import Prepared


@dataclasses.dataclass
class Objective:
    """Validation macro-F1 of ``model`` trained with one trial's settings (mean over its held-out
    parts); the configured settings' trial is never pruned, so that every trial can be weighed against it."""

    model: str
    prepared: Prepared  # the configured settings, resolved against the dataset
    search: SearchConfig
    splits: Sequence[Split]  # train and validation sides only are used

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest(trial, self.search.spaces[self.model])
        configured = self.prepared.config
        trial_run = self.prepared.with_config(apply(configured, self.model, params), [self.model])
        dataset, config = trial_run.dataset, trial_run.config  # a trial's settings may read another view
        is_configured = config.models[self.model] == configured.models[self.model]
        watched = _NeverPruned(trial) if is_configured else trial  # its steps still inform the pruner
        pruning = family(self.model).pruning_callback(watched, config.models[self.model])
        parts, kept = [], []
        for index, split in enumerate(self.splits):
            # Pruning steps are epochs (or rounds) of the first split; later folds run unpruned.
            callbacks = [pruning] if pruning is not None and index == 0 else []
            try:
                trained = train_model(self.model, trial_run, split, callbacks=callbacks)
            except DivergedError as error:  # these settings are hopeless: stopped like a pruned trial
                trial.set_user_attr("diverged", str(error))
                raise optuna.TrialPruned(str(error)) from None
            parts += held_out(trained, dataset, split)
            kept.append([single.kept for single in trained.singles()])
        scores = [score(dataset.labels[part.rows], part.probabilities)["macro_f1"] for part in parts]
        trial.set_user_attr("fold_macro_f1", scores)
        trial.set_user_attr("std_macro_f1", float(np.std(scores)))
        trial.set_user_attr("test_to_train", float(np.mean([part.test_to_train for part in parts])))
        trial.set_user_attr("kept", kept)  # per split, the step each single model kept
        if len(parts) == 1:  # one validation split: its predictions, for a paired bootstrap against the default
            trial.set_user_attr("predicted", parts[0].probabilities.argmax(axis=1).tolist())
        return float(np.mean(scores))


class _NeverPruned:
    """A trial whose steps are reported to the pruner, but which is never pruned: the configured
    settings' trial, which every other trial is weighed against."""

    def __init__(self, trial: optuna.Trial) -> None:
        self._trial = trial

    def should_prune(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)


def study_splits(
    dataset: GenreDataset, config: Config, folds: int | None, repeats: int = 1, outer: Split | None = None
) -> tuple[Split, list[Split]]:
    """The outer split (default: the hold-out split), and what trials train and validate on: its own
    train and validation sides, or ``folds`` grouped folds of train + validation, drawn ``repeats``
    times with different shuffles (a trial's mean then depends less on one partition). Test rows are
    in none of them."""
    outer = outer or split_for(dataset, config.split)
    if folds is None:
        return outer, [outer]
    return outer, [
        inner
        for repeat in range(repeats)
        for inner in inner_splits(dataset.labels, dataset.groups, outer, folds, config.split.seed + repeat)
    ]


def study_identity(
    model: str,
    dataset: GenreDataset,
    config: Config,
    outer_fold: tuple[int, int] | None,
    splits: Sequence[Split],
    folds: int | None,
    repeats: int,
) -> dict[str, Any]:
    """Everything that decides the rows a study's trials train and validate on: a study resumed with
    another identity would mix trials trained on other rows (another outer split's test rows among
    them), so it is refused. ``rows`` digests the splits themselves."""
    digest = hashlib.sha256()
    for split in splits:
        for side in (split.train, split.validation, split.test):
            digest.update(np.asarray(side, dtype=np.int64).tobytes() + b"|")
    return {
        "model": model,
        "dataset": dataset.fingerprint,
        "split": {key: to_data(config.split)[key] for key in ("seed", "test_fraction", "validation_fraction")},
        "outer": "the hold-out split" if outer_fold is None else f"outer fold {outer_fold[0]} of {outer_fold[1]}",
        "folds": folds,
        "repeats": repeats,
        "seed": config.seed,
        "bagging": to_data(config.bagging.get(model)),
        "rows": digest.hexdigest()[:16],
        # How a trial is scored: a study from before the configured settings were weighed against the
        # winner has no per-part scores to weigh them by, nor fold bags whose members never predict
        # rows they stopped on; it is not resumed.
        "scoring": "held-out parts, weighed against the configured settings",
    }
