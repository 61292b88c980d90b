"""A study's final model: the best trial's settings (or the top k trials', averaged) re-trained on the
whole training pool and scored once on the test side.

With no validation side left to stop on, each single model trains as long as it kept in its trial:
a bag's member k as long as the trial's member k kept (the median over the trial's folds), never the
members' sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import optuna

from multimodal_genre.config import Config
from multimodal_genre.data import Split
from multimodal_genre.families import TrainedModel
from multimodal_genre.families.bag import averaged
from multimodal_genre.records import Provenance
from multimodal_genre.search import apply
from multimodal_genre.settings import replaced
from multimodal_genre.training import train_model, write_trained_run
from multimodal_genre.views import Prepared


def retrain(
    model: str,
    prepared: Prepared,
    top: Sequence[optuna.trial.FrozenTrial],
    outer: Split,
    out: Path,
    provenance: Provenance,
) -> dict[str, float]:
    """The settings of each trial of ``top`` trained on train + validation at the lengths it kept;
    one trial's model alone, or the models of several averaged in one; scored once on the test side
    and written into ``out``."""
    pool = np.union1d(outer.train, outer.validation)
    refit = Split(train=pool, validation=outer.validation[:0], test=outer.test)
    configured, tuned = prepared.config, []
    for trial in top:  # each on the dataset of the one before, which gains the views the averaged models read
        prepared = prepared.with_config(apply(configured, model, trial.params), [model])
        tuned.append(prepared)
    trained = [
        train_model(model, trial_run, refit, lengths=kept_lengths(trial))
        for trial_run, trial in zip(tuned, top, strict=True)
    ]
    final = trained[0] if len(trained) == 1 else averaged(trained)
    recorded = _as_trained(tuned[0].config, model, final)
    return write_trained_run(final, prepared.dataset, recorded, refit, out, provenance)


def kept_lengths(trial: optuna.trial.FrozenTrial) -> list[int]:
    """The step each single model of ``trial`` kept, the median over its folds (at least 1)."""
    kept = np.asarray(trial.user_attrs["kept"], dtype=float)  # per fold of the trial, per single model
    return [max(1, int(np.median(column))) for column in kept.T]


def _as_trained(config: Config, model: str, final: TrainedModel) -> Config:
    """The config to record: for one model, with the length it trained (a bag's members each have
    their own, which its run record lists)."""
    if final.members or final.family.length_setting is None:
        return config
    return config.with_model(model, replaced(config.models[model], final.family.length_setting, final.kept))
