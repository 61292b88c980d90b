"""Optuna studies: tune one model's settings on validation data, then re-train and test it once.

``objective.py`` is what a trial maximises and on which rows (never the test side); ``storage.py``
where a study lives and what it was made for; ``running.py`` where its trials run; ``study.py`` one
study from start to its record; ``final.py`` the re-trained final model; ``outer.py`` a study per
outer fold, tested beside the untuned model.
"""

from multimodal_genre.tuning.objective import Objective, study_splits
from multimodal_genre.tuning.outer import tune_outer_folds
from multimodal_genre.tuning.storage import TUNING_DIR, default_storage, mask
from multimodal_genre.tuning.study import StudyOptions, Tuning, TuningResult, tune, tuning_for

__all__ = [
    "TUNING_DIR",
    "Objective",
    "Tuning",
    "StudyOptions",
    "TuningResult",
    "default_storage",
    "mask",
    "study_splits",
    "tune",
    "tune_outer_folds",
    "tuning_for",
]
