"""How a predictor's fit uses the cores: its folds in worker processes, each fit on one thread."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TypeVar

from joblib import cpu_count as joblib_cpu_count
from threadpoolctl import threadpool_limits

from .errors import PredictorError

__all__ = ["MAX_FIT_JOBS", "PARALLEL_MIN_ROWS", "fit_jobs", "one_thread"]

PARALLEL_MIN_ROWS = 300  # fewer rows fit in-process (see fit_jobs)
MAX_FIT_JOBS = 8
T = TypeVar("T")


def fit_jobs(rows: int) -> int:
    """Processes that fit the folds: one below ``PARALLEL_MIN_ROWS`` rows (starting a worker costs more than
    such a fit), else ``SEARCH_FIT_JOBS`` or the cores this process may use (cgroup quota and affinity
    counted), at most ``MAX_FIT_JOBS``."""
    if rows < PARALLEL_MIN_ROWS:
        return 1
    env = os.environ.get("SEARCH_FIT_JOBS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise PredictorError(f"SEARCH_FIT_JOBS must be an integer, got {env!r}") from None
    return max(1, min(MAX_FIT_JOBS, joblib_cpu_count()))


def one_thread(fit: Callable[..., T]) -> Callable[..., T]:
    """Run ``fit`` with one OpenMP/BLAS thread. Gradient boosting on hundreds of rows gains nothing from a
    second thread, and its threads meet at a barrier at every tree node: where another process keeps a core
    busy, they spin there, and a fit took many times longer than on one thread."""
    @functools.wraps(fit)
    def limited(*args, **kwargs) -> T:
        with threadpool_limits(1):
            return fit(*args, **kwargs)
    return limited
