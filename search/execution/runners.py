"""Where evaluations run: in the driver's process, or as Ray tasks ``workers`` at a time.

Both runners take the same ``EvalJob`` list and call ``on_result`` with each
``JobResult`` as it arrives, so ``--workers 1`` exercises the same code as a
cluster. Jobs start longest first (by their expected cost) to shorten the
tail of a rung. Only the driver writes to the study: results come back here.
Every wait has a timeout (``search.execution.timeouts``), so neither a lost
worker nor a hung training can hang the driver: a job past its limit comes
back as a result with the error "timed out after ...". On Ray its worker
process is killed; in process its thread is told to stop (Python cannot kill a
thread: one blocked in C keeps sleeping, abandoned, until the process exits).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from search.errors import SearchError
from search.execution.evaluators import Evaluator
from search.execution.jobs import EvalJob, JobResult, execute_job, worker_name
from search.execution.timeouts import JobTimeout

__all__ = ["Runner", "InProcessRunner", "RayRunner", "make_runner"]

log = logging.getLogger(__name__)
OnResult = Callable[[JobResult], None]
POLL_S = 1.0


def _longest_first(jobs: Sequence[EvalJob]) -> list[EvalJob]:
    return sorted(jobs, key=lambda j: (-j.cost, j.trial))


class Runner(ABC):
    workers: int = 1
    timeouts: JobTimeout

    @abstractmethod
    def run(self, jobs: Sequence[EvalJob], on_result: OnResult) -> None:
        """Run every job (at most ``workers`` at once) and report each result."""

    def close(self) -> None:  # noqa: B027 - most runners hold nothing to release
        """Release what the runner started (a local Ray instance)."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JobCancelled(BaseException):  # noqa: N818 - not an error of the job: it was told to stop
    """Raised inside an in-process job's thread once it timed out or the driver was interrupted."""


def _stop(thread: threading.Thread) -> None:
    """Ask ``thread`` to stop: ``JobCancelled`` is raised in it at its next Python instruction."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(JobCancelled))


def _timed_out(job: EvalJob, limit_s: float, worker: str) -> JobResult:
    return JobResult(job.trial, job.epochs, error=f"timed out after {limit_s:g} s", worker=worker)


class InProcessRunner(Runner):
    """Each job in a thread of the driver's process, waited for up to its limit."""

    def __init__(self, evaluator: Evaluator, timeouts: JobTimeout | None = None):
        self.evaluator, self.timeouts = evaluator, timeouts or JobTimeout()

    def run(self, jobs: Sequence[EvalJob], on_result: OnResult) -> None:
        for job in _longest_first(jobs):
            on_result(self._run_one(job))

    def _run_one(self, job: EvalJob) -> JobResult:
        box: dict[str, JobResult] = {}

        def work() -> None:
            try:
                box["result"] = execute_job(job, self.evaluator)
            except JobCancelled:
                pass

        limit = self.timeouts.limit_s(job)
        thread = threading.Thread(target=work, name=f"job-trial-{job.trial}", daemon=True)
        start = time.monotonic()
        thread.start()
        try:
            thread.join(limit)
        except KeyboardInterrupt:
            _stop(thread)
            thread.join(5.0)
            raise
        if thread.is_alive():
            _stop(thread)
            log.warning("trial %d: its job ran past %g s; told to stop", job.trial, limit)
            return _timed_out(job, limit, worker_name())
        self.timeouts.observe(time.monotonic() - start, job.epochs_run)
        return box["result"]


@contextlib.contextmanager
def _keep_sigterm_handler() -> Iterator[None]:
    """``ray.init`` makes SIGTERM exit the driver at once; the command's own handler (``search.cli.main``:
    SIGTERM takes Ctrl-C's path, so a run says what it kept) is put back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class RayRunner(Runner):
    """Ray tasks with one CPU each; joins ``address`` when given, else starts a local instance."""

    def __init__(self, evaluator: Evaluator, workers: int, address: str | None = None,
                 timeouts: JobTimeout | None = None):
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is a dependency
            raise SearchError(f"--workers {workers} needs Ray ({exc})") from None
        self.ray, self.workers, self.timeouts = ray, workers, timeouts or JobTimeout()
        self._started = not ray.is_initialized()
        if self._started and address:
            check_reachable(address)
        if self._started:
            project = str(Path(__file__).resolve().parents[2])
            env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
                p for p in (project, os.environ.get("PYTHONPATH", "")) if p)}
            try:
                with _keep_sigterm_handler():
                    ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                             logging_level=logging.ERROR, log_to_driver=False, runtime_env={"env_vars": env})
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise SearchError(f"cannot start or join {where}: {exc}") from None
        self._evaluator = ray.put(evaluator)
        # where the cluster has GPUs, each training takes an equal share of them (fractional GPUs)
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        self.gpus_per_task = min(1.0, gpus / workers) if gpus else 0.0
        self._task = ray.remote(num_cpus=1, num_gpus=self.gpus_per_task, max_retries=0)(execute_job)
        # each worker imports torch and the training code (seconds) while the driver opens the study and
        # proposes the first generation, instead of after the first jobs are handed out (fire and forget)
        warm = ray.remote(num_cpus=1, max_retries=0)(warm_worker)
        for _ in range(workers):
            warm.remote()

    def run(self, jobs: Sequence[EvalJob], on_result: OnResult) -> None:
        ray = self.ray
        queue = _longest_first(jobs)
        running: dict = {}  # ObjectRef -> (job, start time)
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    job = queue.pop(0)
                    running[self._task.remote(job, self._evaluator)] = (job, time.monotonic())
                done, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
                for ref in done:
                    job, start = running.pop(ref)
                    result = self._collect(ref, job)
                    if result.ok:
                        self.timeouts.observe(time.monotonic() - start, job.epochs_run)
                    on_result(result)
                self._cancel_overdue(running, on_result)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def _cancel_overdue(self, running: dict, on_result: OnResult) -> None:
        """Kill the worker of every job past its limit; report each as timed out."""
        now = time.monotonic()
        for ref, (job, start) in list(running.items()):
            limit = self.timeouts.limit_s(job)
            if now - start > limit:
                self.ray.cancel(ref, force=True)
                running.pop(ref)
                log.warning("trial %d: its job ran past %g s; its worker was killed", job.trial, limit)
                on_result(_timed_out(job, limit, "a Ray worker, killed"))

    def _collect(self, ref, job: EvalJob) -> JobResult:
        try:
            return self.ray.get(ref, timeout=60)
        except self.ray.exceptions.RayError as exc:  # the worker died or the task could not run
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return JobResult(job.trial, job.epochs, error=f"worker lost: {type(exc).__name__}: {first}")

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()


def warm_worker() -> None:
    """Import what a training job needs, so a worker's first job does not pay for it."""
    import timm  # noqa: F401
    import torch  # noqa: F401


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail at once, in one line, when nothing listens at a cluster address (Ray itself would retry
    for minutes). ``auto`` (the cluster this machine belongs to) is left to Ray."""
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SearchError(f"--ray-address must be HOST:PORT (or ray://HOST:PORT, or auto), got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise SearchError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def make_runner(evaluator: Evaluator, workers: int, address: str | None = None,
                timeouts: JobTimeout | None = None) -> Runner:
    """``--workers 1`` without a cluster runs in the driver; anything else on Ray."""
    if workers == 1 and address is None:
        return InProcessRunner(evaluator, timeouts)
    return RayRunner(evaluator, workers, address, timeouts)
