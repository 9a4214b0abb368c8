"""One evaluation, as it runs on a worker (a Ray task, or the driver itself with ``--workers 1``).

A job trains (or looks up) one architecture up to a rung's epochs, continuing
from the previous rung's checkpoint, and writes its own checkpoint. It never
touches the study DB: it returns a ``JobResult`` and the driver records it.
A fault inside the job (NaN loss, an exception, a checkpoint whose sha256 does
not match) comes back as a result with ``error`` set, so the study goes on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search.errors import SearchError
from search.execution.evaluators import Evaluator, TrainingEvaluator
from search.files import sha256_file
from spaces import NasError, create_space

__all__ = ["EvalJob", "JobResult", "execute_job", "worker_name"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalJob:
    trial: int
    space: str
    config_json: str
    seed: int
    epochs: int  # train until this many epochs in total
    max_epochs: int  # the schedule's length (the last rung)
    space_options: dict = field(default_factory=dict)
    resume: str | None = None  # checkpoint of the previous rung
    resume_sha256: str | None = None
    save: str | None = None  # where to write this rung's checkpoint
    cost: float = 0.0  # expected relative cost (FLOPs), to start the longest jobs first
    from_epoch: int = 0  # where the previous rung left it

    @property
    def epochs_run(self) -> int:
        """Epochs this job trains."""
        return max(1, self.epochs - self.from_epoch)


@dataclass(frozen=True)
class JobResult:
    trial: int
    epochs: int
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    train_seconds: float = 0.0
    history: tuple[float, ...] = ()
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    error: str | None = None
    worker: str = ""
    node: str | None = None  # the Ray node it ran on
    normalization: dict | None = None  # the training split's statistics the model trained with

    @property
    def ok(self) -> bool:
        return self.error is None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def ray_node() -> str | None:
    """The Ray node this process runs on (None outside a Ray worker)."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - only a label
        return None


def _train(job: EvalJob, evaluator: TrainingEvaluator, space: Any, config: Any) -> JobResult:
    session = evaluator.session(space, config, job.max_epochs, job.seed)
    if job.resume:
        actual = sha256_file(job.resume)
        if job.resume_sha256 and actual != job.resume_sha256:
            raise SearchError(f"checkpoint {job.resume} has sha256 {actual[:12]}..., the study recorded "
                           f"{job.resume_sha256[:12]}...: refusing to continue from it")
        session.trainer.load(job.resume)
    result = session.advance(job.epochs)
    checkpoint = digest = None
    if job.save:
        path = Path(job.save)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        session.trainer.save(partial)
        os.replace(partial, path)  # a reader never sees half a checkpoint
        checkpoint, digest = str(path), sha256_file(path)
    return JobResult(job.trial, result.epochs, result.val_accuracy, None, session.trainer.train_seconds,
                     result.history, checkpoint, digest, worker=worker_name(),
                     normalization=session.trainer.normalization.to_dict())


def execute_job(job: EvalJob, evaluator: Evaluator) -> JobResult:
    """Run ``job``; any failure of the trial itself becomes ``JobResult.error``."""
    return dataclasses.replace(_execute(job, evaluator), node=ray_node())


def _execute(job: EvalJob, evaluator: Evaluator) -> JobResult:
    try:
        space = create_space(job.space, **job.space_options)
        config = space.from_json(job.config_json)
        if isinstance(evaluator, TrainingEvaluator):
            return _train(job, evaluator, space, config)
        result = evaluator.evaluate(space, config, job.epochs, job.seed)
        return JobResult(job.trial, result.epochs, result.val_accuracy, result.test_accuracy,
                         result.train_seconds, result.history, worker=worker_name())
    except NasError as exc:
        return JobResult(job.trial, job.epochs, error=f"{type(exc).__name__}: {exc}", worker=worker_name())
    except Exception as exc:  # noqa: BLE001 - an arbitrary fault of one trial must not end the study
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return JobResult(job.trial, job.epochs, worker=worker_name(),
                         error=f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})")
