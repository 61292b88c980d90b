"""Where a study's trials run: in this process, or shared out among workers that each open the study
from its storage (as workers started by hand on other machines would); and a line per trial where no
terminal shows Optuna's bar.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from multimodal_genre import log, progress
from multimodal_genre.search import SearchConfig
from multimodal_genre.tuning.objective import Objective
from multimodal_genre.tuning.storage import open_study, study_storage
from multimodal_genre.workers import Workers

logger = logging.getLogger(__name__)
FOLLOW_SECONDS = 2.0  # how often the command reads the storage for trials its workers finished
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def optimise(study: optuna.Study, objective: Objective, trials: int | None, timeout: float | None) -> tuple[int, float]:
    """Run ``trials`` more trials (or until ``timeout``); return how many ran and in how many seconds.
    Progress: the job's bar (``progress``), else Optuna's, on a watched terminal; else a logged line
    per trial, with the job's estimate where one is open."""
    ran: list[int] = []  # trials of this call (other workers may add theirs to the study meanwhile)
    started = time.perf_counter()
    watched = log.watched()
    study.optimize(
        objective,
        n_trials=trials,
        timeout=timeout,
        callbacks=[
            lambda _, trial: ran.append(trial.number),
            lambda _, trial: progress.done("trial"),
            *([] if watched else [TrialLine()]),
        ],
        show_progress_bar=watched and not progress.shown("trial"),
        gc_after_trial=True,
    )
    return len(ran), time.perf_counter() - started


def optimise_on(
    workers: Workers,
    storage_url: str,
    search: SearchConfig,
    study: optuna.Study,
    objective: Objective,
    trials: int | None,
    timeout: float | None,
    identity: dict[str, Any],
    seed: int,
) -> tuple[int, float]:
    """``optimise`` in every slot of ``workers`` at once, the trials shared out among them; each
    worker opens the study from its storage, as workers started by hand on other machines would."""
    started = time.perf_counter()
    before = {trial.number for trial in study.get_trials(deepcopy=False, states=_FINISHED)}
    count = workers.slots if trials is None else min(workers.slots, trials)
    shares = [None if trials is None else len(range(index, trials, count)) for index in range(count)]
    shared = workers.share(objective)
    futures: list[concurrent.futures.Future] = []
    for share in shares:
        futures.append(
            workers.submit(
                _optimise_share, storage_url, search, study.study_name, identity, seed, shared, share, timeout
            )
        )
        _wait_for_waiting_trials(study, futures[0])
    if progress.counting("trial"):
        _follow(study, futures, before)
    return sum(future.result() for future in futures), time.perf_counter() - started


def _follow(study: optuna.Study, futures: Sequence[concurrent.futures.Future], before: set[int]) -> None:
    """Until the workers' shares end, count each trial of the study that finishes meanwhile (not
    in ``before``) in the job's progress: the trials run in other processes, and the storage tells
    when they end."""
    counted = set(before)
    pending: Any = futures
    while pending:
        _, pending = concurrent.futures.wait(pending, timeout=FOLLOW_SECONDS)
        for trial in study.get_trials(deepcopy=False, states=_FINISHED):
            if trial.number not in counted:
                counted.add(trial.number)
                progress.done("trial", f"{study.study_name} trial {trial.number}")


def _wait_for_waiting_trials(study: optuna.Study, first: concurrent.futures.Future) -> None:
    """Until the first worker has taken the enqueued trials (or ended): on SQLite, two workers
    starting together could both take the same waiting trial."""
    while not first.done() and study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        time.sleep(0.2)


def _optimise_share(
    storage_url: str,
    search: SearchConfig,
    name: str,
    identity: dict[str, Any],
    seed: int,
    objective: Objective,
    trials: int | None,
    timeout: float | None,
) -> int:
    """One worker's part of a study: its trials, on the shared storage; returns how many it ran."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with study_storage(storage_url, search) as storage:
        study = open_study(name, storage, search, identity, seed)
        return optimise(study, objective, trials, timeout)[0]


class TrialLine:
    """One logged line per finished trial, for logs and pipes where Optuna's progress bar would be noise."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        seconds = trial.duration.total_seconds() if trial.duration else 0.0
        if trial.state == TrialState.COMPLETE:
            outcome = (
                f"validation macro-F1 {trial.value:.4f} (best {study.best_value:.4f}, trial {study.best_trial.number})"
            )
        elif trial.state == TrialState.PRUNED:
            outcome = f"pruned at step {trial.last_step}"
        else:
            outcome = trial.state.name.lower()
        params = ", ".join(f"{key}={_short(value)}" for key, value in trial.params.items())
        job = progress.summary("trial")
        logger.info(
            f"{study.study_name} trial {trial.number}: {outcome}, {seconds:.0f} s; {params}"
            + (f"; {job}" if job else "")
        )


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
