"""Where independent trainings run: in this process, in N local worker processes, or on a Dask cluster.

The folds and models of a comparison, and the trials of a study, do not depend on each other, so
they can run side by side, each with its share of the cores. Every training runs with a fixed
number of threads: TensorFlow's convolutions sum in an order that depends on how many threads share
them, so the same seed gives the same figures only with the same threads per training (which the
run folder records). Local workers are spawned, never forked: TensorFlow's thread pools do not
survive a fork.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from multimodal_genre import log
from multimodal_genre.backend import load_keras
from multimodal_genre.errors import ConfigError, RunError

THREADS_VARIABLE = "MULTIMODAL_GENRE_THREADS"
CONNECT_SECONDS = 10  # for a cluster's scheduler, which Dask tries again and again until then
WORKER_WAIT_SECONDS = 10  # for a cluster's first worker, which may still be starting
_THREAD_VARIABLES = (THREADS_VARIABLE, "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def available_cores() -> int:
    """The cores this process may run on (its affinity, where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads() -> int:
    """The threads one training in this process may use: its share when it is a worker, else every core."""
    value = os.environ.get(THREADS_VARIABLE)
    return int(value) if value else available_cores()


def use_threads(count: int) -> bool:
    """Give this process's trainings ``count`` threads (TensorFlow's pools, XGBoost, OpenMP). Returns
    False when TensorFlow already runs here with another count, which it cannot change any more."""
    if "tensorflow" in sys.modules and threads() != count:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(count)
            tf.config.threading.set_inter_op_parallelism_threads(count)
        except RuntimeError:  # TensorFlow's context is initialised: its pools keep their size
            return False
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(count)
    return True


def _start_worker(level: int) -> None:
    """A local worker process prints its log lines on standard output (each task sets its threads)
    and loads Keras quietly, as the command did. Ctrl-C is the command's to handle: it stops the
    workers, which would otherwise each print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    load_keras()
    logger = logging.getLogger(log.PACKAGE)
    handler = logging.StreamHandler(sys.stdout)
    handler.setLevel(level)  # a run's own log asks for more while it trains (``log.kept``)
    logger.addHandler(handler)
    logger.setLevel(level)


def _in_threads(count: int, function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function`` with ``count`` threads per training, set before the worker's first training
    starts TensorFlow (a Dask worker may have run other tasks before)."""
    if not use_threads(count):
        raise RunError(f"this worker already trains with other thread counts than {count}; restart it")
    return function(*args)


class _HereExecutor(concurrent.futures.Executor):
    """Runs each task at once in this process: the serial case behind the same interface."""

    def submit(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(function(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to whoever reads the future
            future.set_exception(error)
        return future


class Workers:
    """Runs independent tasks with ``threads`` threads each: ``jobs`` at a time on this machine, or on
    the Dask cluster whose scheduler is at ``cluster`` (``tcp://host:8786``). Use as a context manager.

    ``threads`` defaults to the cores divided among the jobs (on a cluster: the fewest threads of
    any Dask worker, so start workers with ``--nthreads`` equal to the cores each training gets).
    """

    def __init__(self, jobs: int = 1, threads: int | None = None, cluster: str | None = None) -> None:
        if jobs < 1:
            raise ConfigError(f"jobs must be at least 1, got {jobs}")
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        if cluster is not None and jobs != 1:
            raise ConfigError("jobs cannot be given with a cluster (the cluster's workers run the trainings)")
        self.jobs, self.threads, self.cluster = jobs, threads, cluster
        self._executor: concurrent.futures.Executor | None = None
        self._client: Any = None

    def __enter__(self) -> Workers:
        if self.cluster is not None:
            self._client = _connect(self.cluster)
            if self.threads is None:
                self.threads = min(self._client.nthreads().values())
            self._executor = self._client.get_executor(pure=False)
            return self
        if self.jobs == 1 and (self.threads is None or use_threads(self.threads)):
            self.threads = self.threads or threads()
            self._executor = _HereExecutor()
            return self
        self.threads = self.threads or max(1, available_cores() // self.jobs)
        self._executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(logging.getLogger(log.PACKAGE).getEffectiveLevel(),),
        )
        return self

    def __exit__(self, error_type: type[BaseException] | None, *exc_info: object) -> None:
        """Waits for the running tasks; after an error or Ctrl-C, stops them instead."""
        if self._client is not None:
            self._client.close()  # cancels what the cluster still runs for this client
        elif self._executor is not None:
            stopping = error_type is not None and not self.here
            self._executor.shutdown(wait=not stopping, cancel_futures=True)
            if stopping:
                for process in multiprocessing.active_children():
                    process.terminate()
        self._executor = self._client = None

    @property
    def where(self) -> str:
        """Where the tasks run, in words for the log."""
        if self.cluster is not None:
            return f"the Dask cluster at {self.cluster}, {self.threads} thread(s) per training"
        if self.here:
            return f"this process, {self.threads} thread(s) per training"
        return f"{self.jobs} worker processes, {self.threads} thread(s) each"

    @property
    def here(self) -> bool:
        """Whether tasks run in this process, one after another."""
        return isinstance(self._executor, _HereExecutor)

    @property
    def slots(self) -> int:
        """How many trainings run at once."""
        if self._client is None:
            return self.jobs
        return max(1, sum(self._client.nthreads().values()) // self.threads)

    def share(self, value: Any) -> Any:
        """``value`` as tasks should receive it: sent once to every Dask worker, not with every task."""
        if self._client is None:
            return value
        return self._client.scatter(value, broadcast=True)

    def submit(self, function: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        """Start ``function(*args)`` (a module-level function: it travels by name) with this pool's threads."""
        if self._executor is None:
            raise RuntimeError("Workers must be entered (with Workers(...) as workers) before tasks are submitted")
        if self.here:
            return self._executor.submit(function, *args)
        return self._executor.submit(_in_threads, self.threads, function, *args)


def _connect(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(
            "--cluster needs Dask's distributed package: pip install 'multimodal-genre[cluster]'"
        ) from None
    try:
        client = Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as error:
        raise RunError(f"{address}: cannot reach the Dask scheduler ({error})") from None
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except TimeoutError:
        client.close()
        raise RunError(
            f"{address}: the Dask scheduler has no workers after {WORKER_WAIT_SECONDS} s "
            f"(start some: dask worker {address} --nthreads T)"
        ) from None
    return client
