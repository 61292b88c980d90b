"""Where a study lives: a storage URL (SQLite under reports/ by default, or a PostgreSQL server that
several workers share), opened with heartbeats so that the trial of a worker that dies is failed and
run again, and a study's identity, so that a resumed study never mixes trials trained on other rows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import sqlalchemy.exc
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from multimodal_genre.errors import RunError, first_line
from multimodal_genre.search import SearchConfig

TUNING_DIR = Path("reports/tuning")


def default_storage(directory: Path = TUNING_DIR) -> str:
    """An SQLite file under ``directory``: nothing to install, resumable, one machine."""
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'studies.db'}"


def open_study(
    name: str, storage: RDBStorage, search: SearchConfig, identity: dict[str, Any], seed: int
) -> optuna.Study:
    """Create the study, or resume it if ``identity`` (``objective.study_identity``: the model, the
    data and everything that decides the rows its trials train and validate on) matches what made it."""
    storage_url = storage.url
    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction="maximize",
            load_if_exists=True,
            pruner=search.pruner.build(identity["model"]),
        )
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise RunError(f"{mask(storage_url)}: cannot open the study storage ({first_line(error)})") from None
    made_for = study.user_attrs.get("identity")
    if made_for is None:
        study.set_user_attr("identity", identity)
    elif made_for != identity:
        raise RunError(
            f"study '{name}' in {mask(storage_url)} was made for other trials: {_differences(made_for, identity)}; "
            "resume it with the same settings or choose another --study-name"
        )
    # Each worker draws from its own seed (the configured one, the trials so far and its process id):
    # workers started together on one study must not sample the same settings.
    worker_seed = int(np.random.SeedSequence([seed, len(study.trials), os.getpid()]).generate_state(1)[0])
    study.sampler = optuna.samplers.TPESampler(seed=worker_seed, constant_liar=True)
    return study


def _differences(made_for: dict[str, Any], identity: dict[str, Any]) -> str:
    """What differs between two identities, in words: ``outer: fold 1 of 5, now fold 1 of 4``."""
    keys = [key for key in identity if made_for.get(key) != identity[key]] or sorted(set(made_for) - set(identity))
    return "; ".join(f"{key}: {made_for.get(key, 'not recorded')}, now {identity.get(key)}" for key in keys)


@contextlib.contextmanager
def study_storage(url: str, search: SearchConfig) -> Iterator[RDBStorage]:
    """The storage at ``url`` while the block runs; its pooled connections are closed after."""
    storage = _storage(url, search)
    try:
        yield storage
    finally:
        storage.engine.dispose()


def _storage(url: str, search: SearchConfig, attempts: int = 5) -> RDBStorage:
    """The storage with heartbeats on, its tables created if the database is new."""
    attempt = 0
    while True:
        attempt += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    # A pooled connection is checked before use: after the server restarts, the next
                    # trial reconnects instead of failing on a connection the restart closed.
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=search.storage.heartbeat_seconds,
                    grace_period=search.storage.grace_seconds,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=search.storage.retries),
                )
        except ImportError as error:
            missing = getattr(error.__cause__, "name", None) or getattr(error, "name", None)
            raise RunError(
                f"{mask(url)}: the database driver '{missing}' is not installed "
                "(for PostgreSQL: pip install 'multimodal-genre[postgres]')"
            ) from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as error:
            # Workers started together on a new database race to create its tables; the
            # losers find them made on a second look.
            if attempt == attempts:
                raise RunError(f"{mask(url)}: cannot create the study tables ({first_line(error)})") from None
            time.sleep(0.5 * attempt)
        except (sqlalchemy.exc.SQLAlchemyError, ValueError) as error:
            raise RunError(f"{mask(url)}: cannot open the study storage ({first_line(error)})") from None


@contextlib.contextmanager
def stopping_on_lost_storage(url: str) -> Iterator[None]:
    """A study whose storage goes away (the database server stopped or restarted while a trial wrote
    to it) stops with one line: its finished trials are in the storage, and the same command goes on.

    A trial's heartbeat thread that meets the lost storage ends quietly: the trial itself either
    reaches the storage again when it finishes or stops with that line. So does Optuna's warning that
    it read a lost storage's trials again "by a slower alternative", which meets the same loss."""
    report_thread_error = threading.excepthook
    threading.excepthook = _quiet_on_lost_storage(report_thread_error)
    rdb_logger = logging.getLogger("optuna.storages._rdb.storage")
    rdb_logger.addFilter(_without_fallback_warning)
    try:
        yield
    except Exception as error:
        lost = _storage_error(error)
        if lost is None:
            raise
        raise RunError(
            f"{mask(url)}: lost the study storage ({first_line(lost)}); the finished trials are saved there: "
            "run the same command again to go on"
        ) from None
    finally:
        threading.excepthook = report_thread_error
        rdb_logger.removeFilter(_without_fallback_warning)


def _without_fallback_warning(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Caught an error from sqlalchemy")


def _quiet_on_lost_storage(
    report: Callable[[threading.ExceptHookArgs], object],
) -> Callable[[threading.ExceptHookArgs], None]:
    """``report`` for every error of a thread but a lost storage's."""

    def hook(args: threading.ExceptHookArgs) -> None:
        if _storage_error(args.exc_value) is None:
            report(args)

    return hook


def _storage_error(error: BaseException | None) -> BaseException | None:
    """The database error behind ``error`` (Optuna may raise another one while cleaning up after it)."""
    while error is not None:
        if isinstance(error, sqlalchemy.exc.OperationalError):
            return error
        error = error.__cause__ or error.__context__
    return None


def mask(url: str) -> str:
    """A storage URL with its password hidden, for messages and reports."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url
