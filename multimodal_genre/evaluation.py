"""Scores of a model's test predictions, computed with scikit-learn.

Every function takes the true label codes and the (n, 10) probability matrix in GENRES order, and
always reports all ten genres, so tables from different runs line up.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.preprocessing import label_binarize

from multimodal_genre.data import GENRES

LABELS = list(range(len(GENRES)))
METRICS = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "weighted_f1",
    "macro_precision",
    "macro_recall",
    "roc_auc_ovr",
    "log_loss",
)


def score(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """The headline metrics, named as in METRICS."""
    predicted = probabilities.argmax(axis=1)
    scores = {
        "accuracy": accuracy_score(labels, predicted),
        "balanced_accuracy": balanced_accuracy_score(labels, predicted),
        "macro_f1": f1_score(labels, predicted, labels=LABELS, average="macro", zero_division=0),
        "weighted_f1": f1_score(labels, predicted, labels=LABELS, average="weighted", zero_division=0),
        "macro_precision": precision_score(labels, predicted, labels=LABELS, average="macro", zero_division=0),
        "macro_recall": recall_score(labels, predicted, labels=LABELS, average="macro", zero_division=0),
        "roc_auc_ovr": _roc_auc_ovr(labels, probabilities),
        # float32 softmax rows sum to one only within rounding, which log_loss warns about.
        "log_loss": log_loss(labels, probabilities / probabilities.sum(axis=1, keepdims=True), labels=LABELS),
    }
    return {name: float(scores[name]) for name in METRICS}


def per_genre_report(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, dict[str, float]]:
    """scikit-learn's classification report: precision, recall, F1 and support per genre, plus averages."""
    return classification_report(
        labels,
        probabilities.argmax(axis=1),
        labels=LABELS,
        target_names=list(GENRES),
        output_dict=True,
        zero_division=0,
    )


def confusion(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Counts: row = true genre, column = predicted genre."""
    return confusion_matrix(labels, probabilities.argmax(axis=1), labels=LABELS)


def _roc_auc_ovr(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Macro one-vs-rest ROC AUC over the genres present in ``labels`` (a genre with no positive
    example has no AUC); equal to scikit-learn's ``multi_class="ovr"`` when all are present."""
    present = np.unique(labels)
    if len(present) < 2:
        return float("nan")
    truth = label_binarize(labels, classes=LABELS)[:, present]
    return roc_auc_score(truth, probabilities[:, present], average="macro")
