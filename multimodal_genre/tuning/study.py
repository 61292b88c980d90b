"""One model's Optuna study: the configured settings scored first, then trials on the training side
of an outer split; the winner replaces the configured settings only where it beats them by more
than the inner folds' noise (``decision.py``); the settings kept are re-trained and tested once
(``final.py``), with the study's reports and record.

Follows the Optuna examples: an ``objective(trial)`` whose search space comes from
``configs/search.yaml``, pruning through optuna-integration's callbacks, and the study persisted in a
storage URL, so a study resumes under its name.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from multimodal_genre.config import Config, config_dict
from multimodal_genre.data import GenreDataset, Split, split_for
from multimodal_genre.errors import ConfigError, RunError
from multimodal_genre.families import BaggingConfig, family
from multimodal_genre.files import new_run_dir, write_text
from multimodal_genre.records import (
    DatasetRecord,
    DecisionRecord,
    Provenance,
    SessionRecord,
    StudyRecord,
    write_record,
)
from multimodal_genre.search import SearchConfig, apply, default_values
from multimodal_genre.settings import Problems, Settings
from multimodal_genre.tuning.decision import decide, scored
from multimodal_genre.tuning.final import retrain
from multimodal_genre.tuning.objective import Objective, study_identity, study_splits
from multimodal_genre.tuning.reports import write_study_reports
from multimodal_genre.tuning.running import optimise, optimise_on
from multimodal_genre.tuning.storage import (
    TUNING_DIR,
    default_storage,
    mask,
    open_study,
    stopping_on_lost_storage,
    study_storage,
)
from multimodal_genre.views import Prepared, prepare
from multimodal_genre.workers import Workers


@dataclasses.dataclass(frozen=True)
class StudyOptions(Settings):
    """How long a study runs in this process, what it is called, and what its objective averages over."""

    trials: int | None = None  # more trials to run here
    timeout: float | None = None  # seconds after which no new trial starts
    study_name: str | None = None  # default: the model's name
    folds: int | None = None  # objective: mean over this many grouped inner folds (None: the validation split)
    repeats: int = 1  # the inner folds drawn this many times, each with its own shuffle
    # Tune once per outer grouped fold (a study each) and test each fold's result beside the untuned
    # model on the same fold: whether tuning gains, measured as the comparison measures (None: one study).
    outer_folds: int | None = None

    def problems(self) -> Problems:
        if self.trials is None and self.timeout is None:
            yield "trials", "or timeout must be given: a study without either never ends"
        if self.trials is not None and self.trials < 1:
            yield "trials", f"must be at least 1, got {self.trials}"
        if self.timeout is not None and self.timeout <= 0:
            yield "timeout", f"must be positive, got {self.timeout}"
        if self.study_name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.study_name):
            yield "study_name", f"must be letters, digits, '_', '.' or '-' (it names a folder), got {self.study_name!r}"
        if self.folds is not None and self.folds < 2:
            yield "folds", f"must be at least 2, got {self.folds}"
        if self.repeats < 1 or (self.repeats > 1 and self.folds is None):
            yield "repeats", f"must be at least 1, and needs folds to repeat, got {self.repeats}"
        if self.outer_folds is not None and self.outer_folds < 2:
            yield "outer_folds", f"must be at least 2, got {self.outer_folds}"


@dataclasses.dataclass(frozen=True)
class TuningResult:
    study_name: str
    directory: Path  # trials table, plots, tuned config, summary and the final run folder
    best_trial: int
    best_value: float
    best_params: dict[str, Any]
    counts: dict[str, int]  # trials by state: complete, pruned, fail, running, waiting
    trials_per_hour: float
    decision: DecisionRecord  # the winner against the configured settings on the inner folds
    test_scores: dict[str, float]  # of the settings the decision kept
    final_run: Path
    # Test macro-F1 of the configured settings and of the winner, each re-trained as the final model
    # is, where the study was asked for both (outer folds); else None.
    default_test: float | None = None
    winner_test: float | None = None


def tune(
    model: str,
    dataset: GenreDataset,
    config: Config,
    search: SearchConfig,
    options: StudyOptions,
    out: Path = TUNING_DIR,
    storage_url: str | None = None,
    provenance: Provenance = Provenance(),
    workers: Workers | None = None,
) -> TuningResult:
    """Run (or resume) a study of ``model`` on the hold-out split, write its reports in ``out/<study>``,
    then re-train the settings the decision kept on train + validation and score them once on the test
    split. ``options.trials`` more trials run here, or shared among ``workers`` (entered), which all
    use the study's storage (default: a SQLite file in ``out``)."""
    study = tuning_for(model, dataset, config, search, options, storage_url, provenance, workers)
    name = options.study_name or model
    return study.run(name, split_for(dataset, config.split), out / name)


def tuning_for(
    model: str,
    dataset: GenreDataset,
    config: Config,
    search: SearchConfig,
    options: StudyOptions,
    storage_url: str | None,
    provenance: Provenance,
    workers: Workers | None,
) -> Tuning:
    """The one way into a study: ``model``'s study settings with ``config`` resolved against ``dataset``
    once, here (so tuned.yaml says the route its trials took)."""
    prepared = prepare(dataset, config, [model])
    return Tuning(model, prepared, search, options, storage_url, provenance, workers)


@dataclasses.dataclass(frozen=True)
class Tuning:
    """One model's study settings, run on an outer split: by ``tune`` on the hold-out split, by
    ``tune_outer_folds`` on each outer fold."""

    model: str
    prepared: Prepared  # the configured settings, resolved against the dataset
    search: SearchConfig
    options: StudyOptions
    storage_url: str | None
    provenance: Provenance  # the study's; its runs add their outer fold
    workers: Workers | None

    def run(
        self, name: str, outer: Split, directory: Path, outer_fold: tuple[int, int] | None = None, both: bool = False
    ) -> TuningResult:
        """The study ``name`` on ``outer``'s training side (``outer_fold`` of the outer folds, or the
        hold-out split), its reports and final run in ``directory``. With ``both``, the configured
        settings and the winner are each re-trained and tested, whichever the decision kept."""
        model, search, options = self.model, self.search, self.options
        dataset, config = self.prepared.dataset, self.prepared.config
        self._check(model)
        _, splits = study_splits(dataset, config, options.folds, options.repeats, outer)
        identity = study_identity(model, dataset, config, outer_fold, [outer, *splits], options.folds, options.repeats)
        with study_storage(self.storage_url or default_storage(directory.parent), search) as storage:
            study = open_study(name, storage, search, identity, config.seed)
            study.enqueue_trial(default_values(config, model, search.spaces[model]), skip_if_exists=True)
            objective = Objective(model, self.prepared, search, splits)
            with stopping_on_lost_storage(storage.url):
                if self.workers is None or self.workers.here:
                    session = optimise(study, objective, options.trials, options.timeout)
                else:
                    session = optimise_on(
                        self.workers, storage.url, search, study, objective, options.trials, options.timeout,
                        identity, config.seed,
                    )  # fmt: skip
            decision = self._decide(study, splits[0])
            directory.mkdir(parents=True, exist_ok=True)
            write_study_reports(study, directory)
            provenance = self.provenance.in_fold(outer_fold)
            result = self._final_runs(study, decision, outer, directory, provenance, session, both)
        objective_words = _objective_words(options, config.bagging.get(model), family(model).composite)
        _write_study_record(result, model, dataset, storage.url, objective_words, session, self.provenance)
        return result

    def _decide(self, study: optuna.Study, first: Split) -> DecisionRecord:
        """The winner weighed against the configured settings' trial on the same held-out rows
        (``first``'s validation side where there is one split, for the bootstrap)."""
        best, default = _best_trial(study), self._default_trial(study)
        labels = self.prepared.dataset.labels[first.validation]
        return decide(
            scored(default.number, default.user_attrs, labels),
            scored(best.number, best.user_attrs, labels),
            self.search.decision,
        )

    def _final_runs(
        self,
        study: optuna.Study,
        decision: DecisionRecord,
        outer: Split,
        directory: Path,
        provenance: Provenance,
        session: tuple[int, float],
        both: bool,
    ) -> TuningResult:
        """The settings kept re-trained into ``<time>-final`` and tested once, and with ``both`` the
        settings not kept beside them (``<time>-default`` or ``<time>-winner``); ``tuned.yaml``."""
        model, top_k = self.model, self.search.final.top_k
        default = study.trials[decision.default_trial]
        winners = _top_trials(study, top_k)
        # no trial beat the configured settings: they head the top trials, which are kept as they are
        heads = decision.adopted or decision.winner_trial == decision.default_trial
        kept, unkept = (winners, [default]) if heads else ([default], winners)
        _write_tuned_config(directory, study.study_name, decision, apply(self.prepared.config, model, kept[0].params))
        final_run = new_run_dir(directory, "final")
        test_scores = retrain(model, self.prepared, kept, outer, final_run, provenance)
        other = None
        if both and decision.winner_trial != decision.default_trial:
            other_run = new_run_dir(directory, "default" if decision.adopted else "winner")
            other = retrain(model, self.prepared, unkept, outer, other_run, provenance)["macro_f1"]
        best = study.trials[decision.winner_trial]
        return _result(study, best, directory, session, decision, test_scores, final_run, other)

    def _default_trial(self, study: optuna.Study) -> optuna.trial.FrozenTrial:
        """The finished trial of the configured settings, which every other is weighed against."""
        configured = self.prepared.config.models[self.model]
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if apply(self.prepared.config, self.model, trial.params).models[self.model] == configured:
                return trial
        raise RunError(
            f"study '{study.study_name}': the configured settings' trial did not finish (see trials.csv), so no "
            "trial can be weighed against them"
        )

    def _check(self, model: str) -> None:
        """A study needs a space to search, and a fold-bagged model is scored on its out-of-fold
        predictions of the whole training pool, which inner folds would only repeat."""
        if not self.search.spaces[model]:
            raise RunError(f"the search space of '{model}' is empty: nothing to tune")
        plan = self.prepared.config.bagging.get(model)
        if self.options.folds is not None and (family(model).composite or (plan and plan.subsets == "folds")):
            what = "a stack of fold bags" if family(model).composite else "fold-bagged"
            raise ConfigError(
                f"--folds: models.{model} is {what}, so each trial is scored on its out-of-fold predictions "
                "of the whole training pool already; tune it without --folds"
            )


def _result(
    study: optuna.Study,
    best: optuna.trial.FrozenTrial,
    directory: Path,
    session: tuple[int, float],
    decision: DecisionRecord,
    test_scores: dict[str, float],
    final_run: Path,
    other_test: float | None,
) -> TuningResult:
    """The study's outcome; ``other_test`` is the test macro-F1 of the settings the decision did not
    keep, where both were re-trained (the same as the kept one's where the winner is the default)."""
    ran, seconds = session
    states = [trial.state for trial in study.trials]  # one read of the storage
    kept_test = test_scores["macro_f1"]
    if other_test is None and decision.winner_trial == decision.default_trial:
        other_test = kept_test
    return TuningResult(
        study_name=study.study_name,
        directory=directory,
        best_trial=best.number,
        best_value=float(best.value),
        best_params=dict(best.params),
        counts={state.name.lower(): states.count(state) for state in TrialState},
        trials_per_hour=ran / seconds * 3600 if seconds > 0 else 0.0,
        decision=decision,
        test_scores=test_scores,
        final_run=final_run,
        default_test=other_test if decision.adopted else kept_test,
        winner_test=kept_test if decision.adopted else other_test,
    )


def _objective_words(options: StudyOptions, plan: BaggingConfig | None, composite: bool) -> str:
    """What a trial is scored by, in words for the study's record and report."""
    if composite:
        return (
            "validation macro-F1 of its base models' out-of-fold predictions of the training pool, weighed as "
            "chosen on them"
        )
    if plan is not None and plan.subsets == "folds":
        return f"validation macro-F1 of the {plan.members} members' out-of-fold predictions of the training pool"
    if options.folds is None:
        return "validation macro-F1"
    repeated = f", drawn {options.repeats} times" if options.repeats > 1 else ""
    return f"validation macro-F1, mean over {options.folds} grouped inner folds{repeated}"


def _top_trials(study: optuna.Study, k: int) -> list[optuna.trial.FrozenTrial]:
    """The ``k`` finished trials of highest objective, best first (fewer where fewer finished)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(complete, key=lambda trial: trial.value, reverse=True)[:k]


def _best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    if not any(trial.state == TrialState.COMPLETE for trial in study.trials):
        raise RunError(
            f"study '{study.study_name}': no trial has finished yet, so there is no best setting to re-train"
        )
    return study.best_trial


def _write_tuned_config(directory: Path, name: str, decision: DecisionRecord, tuned: Config) -> None:
    write_text(
        directory / "tuned.yaml",
        f"# Study '{name}' {decision.words()}.\n"
        f"# Inner macro-F1: configured {decision.default_score:.4f}, winner {decision.winner_score:.4f}; "
        f"difference {decision.difference:+.4f}, {decision.interval_words()}.\n"
        f"# Use it with: multimodal-genre compare --config {directory / 'tuned.yaml'}\n"
        + yaml.safe_dump(config_dict(tuned), sort_keys=False),
    )


def _write_study_record(
    result: TuningResult,
    model: str,
    dataset: GenreDataset,
    storage_url: str,
    objective: str,
    session: tuple[int, float],
    provenance: Provenance,
) -> None:
    ran, seconds = session
    record = StudyRecord.new(
        command=provenance.command,
        recipe=provenance.recipe,
        dataset=DatasetRecord.of(dataset),
        study=result.study_name,
        model=model,
        storage=mask(storage_url),
        objective=objective,
        best_trial=result.best_trial,
        best_validation_macro_f1=result.best_value,
        best_params=result.best_params,
        trials=result.counts,
        this_run=SessionRecord(trials=ran, seconds=round(seconds, 1), trials_per_hour=round(result.trials_per_hour, 1)),
        final_run=result.final_run.name,
        test={key: value for key, value in result.test_scores.items() if not key.startswith("f1_")},
        decision=result.decision,
        default_test_macro_f1=result.default_test,
        winner_test_macro_f1=result.winner_test,
    )
    write_record(result.directory, record)
