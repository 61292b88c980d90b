"""Fitting the support vector machine, and its genre probabilities.

scikit-learn's RBF SVC separates the genres a pair at a time; its probabilities come from
``CalibratedClassifierCV`` (one temperature for the softmax of its decision values, fitted on 5 folds
of the training rows, then one SVC on all of them; scikit-learn advises it over ``probability=True``
since 1.9, and a temperature keeps the machine's own ranking of the genres). The machine keeps that
SVC and its inverse temperature: a saved machine is fitted again as one SVC, not six. Every column is
standardised on the training rows and each block of columns divided by the root of its number of
varying columns (``scaling.py``), so the 57 feature columns weigh as much in the kernel's distance as
the hundreds of a pooled activation.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
from scipy.special import softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

from multimodal_genre.data import GENRES, VARIANCE_COLUMNS, Labelled, Tracks
from multimodal_genre.errors import RunError
from multimodal_genre.families.base import Fitted
from multimodal_genre.families.svm.settings import SVMConfig
from multimodal_genre.scaling import block_scales

CALIBRATION_FOLDS = 5


@dataclasses.dataclass
class KernelMachine:
    """A fitted machine and what it needs to read new tracks (and to be fitted again from its file)."""

    settings: SVMConfig
    seed: int
    centre: np.ndarray  # each column's mean over the training rows
    scale: np.ndarray  # each column's divisor (``scaling.block_scales``)
    rows: np.ndarray  # the training rows, centred and scaled
    labels: np.ndarray
    svc: SVC  # fitted on all the rows
    inverse_temperature: float  # of the softmax over its decision values, fitted on folds of the rows


def columns(settings: SVMConfig, tracks: Tracks) -> tuple[np.ndarray, list[int]]:
    """The values the machine reads of ``tracks``, and the width of each block of them."""
    features = np.array(tracks.features, dtype=np.float64)
    if settings.log_variances:
        features[:, VARIANCE_COLUMNS] = np.log(np.maximum(features[:, VARIANCE_COLUMNS], 1e-12))
    blocks = [features]
    if settings.pretrained is not None:
        view = settings.pretrained.embedding
        pooled = np.asarray(tracks.embeddings[view.key], dtype=np.float64)
        blocks += np.split(pooled, np.cumsum(view.blocks)[:-1], axis=1)
    return np.hstack(blocks), [block.shape[1] for block in blocks]


def fit_machine(settings: SVMConfig, tracks: Tracks, labels: np.ndarray, seed: int) -> KernelMachine:
    """The machine fitted on ``tracks``, their columns standardised and weighed on those tracks alone."""
    values, widths = columns(settings, tracks)
    centre, scale = values.mean(axis=0), block_scales(values, widths)
    rows = (values - centre) / scale
    return KernelMachine(settings, seed, centre, scale, rows, labels, *calibrated_parts(settings, rows, labels, seed))


def calibrated_svc(settings: SVMConfig, rows: np.ndarray, labels: np.ndarray, seed: int) -> CalibratedClassifierCV:
    """The SVC on ``rows``, its probabilities calibrated on folds of them; the same rows and seed
    give the same machine."""
    fewest = int(np.unique(labels, return_counts=True)[1].min()) if len(labels) else 0
    if fewest < 2:
        raise RunError("svm: every genre needs at least 2 training tracks to calibrate its probabilities")
    folds = StratifiedKFold(min(CALIBRATION_FOLDS, fewest), shuffle=True, random_state=seed)
    machine = CalibratedClassifierCV(svc(settings), method="temperature", cv=folds, ensemble=False)
    return machine.fit(rows, labels)


def calibrated_parts(settings: SVMConfig, rows: np.ndarray, labels: np.ndarray, seed: int) -> tuple[SVC, float]:
    """``calibrated_svc``'s SVC fitted on all the rows and its inverse temperature: all a machine keeps."""
    calibrated = calibrated_svc(settings, rows, labels, seed).calibrated_classifiers_[0]
    (temperature,) = calibrated.calibrators
    return calibrated.estimator, float(temperature.beta_)


def svc(settings: SVMConfig) -> SVC:
    return SVC(C=settings.c, kernel="rbf", gamma="scale")


def machine_proba(machine: KernelMachine, tracks: Tracks) -> np.ndarray:
    """Genre probabilities (n, 10), as ``CalibratedClassifierCV`` gives them; a genre the training
    rows lacked gets 0."""
    values, _ = columns(machine.settings, tracks)
    probabilities = np.zeros((len(values), len(GENRES)))
    if len(values):
        decisions = machine.svc.decision_function((values - machine.centre) / machine.scale)
        logits = np.stack([-decisions, decisions], axis=1) if decisions.ndim == 1 else decisions
        probabilities[:, machine.svc.classes_] = softmax(machine.inverse_temperature * logits, axis=1)
    return probabilities


def train_svm(settings: SVMConfig, train: Labelled, validation: Labelled | None, seed: int) -> Fitted:
    """One fit on the training rows; the validation rows, where there are some, only give its loss."""
    started = time.perf_counter()
    machine = fit_machine(settings, train.tracks, train.labels, seed)
    seconds = time.perf_counter() - started
    history = pd.DataFrame({"fit": [1], "loss": [_loss(machine, train)]})
    if validation:
        history["val_loss"] = _loss(machine, validation)
    return Fitted(machine, history, 1, seconds)


def _loss(machine: KernelMachine, rows: Labelled) -> float:
    probabilities = machine_proba(machine, rows.tracks)
    return float(log_loss(rows.labels, probabilities, labels=list(range(len(GENRES)))))
