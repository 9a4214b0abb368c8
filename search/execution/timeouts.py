"""How long one job may run before the runner gives up on it (``--job-timeout``, or measured).

Without a fixed limit, a job may run ``MULTIPLE`` times the slowest seconds per
epoch measured so far in the study (its earlier trials, then every job this run
finishes), times its own epochs, and never less than ``FLOOR_S``. Before
anything was measured the limit is ``INITIAL_S_PER_EPOCH`` per epoch of the job,
at least ``INITIAL_S``: generous, because a limit that kills the first healthy
jobs would kill every later one too (a timed-out job measures nothing). With
several workers the first job to finish sets the limit of the others still
running. A job past its limit is
failed with the reason and tried once more (``search.loop.rungs``), so a hung
training cannot stall a study.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.execution.jobs import EvalJob

__all__ = ["JobTimeout", "MULTIPLE", "FLOOR_S", "INITIAL_S", "INITIAL_S_PER_EPOCH"]

MULTIPLE = 10.0
FLOOR_S = 300.0
INITIAL_S = 3600.0
INITIAL_S_PER_EPOCH = 1800.0


@dataclass
class JobTimeout:
    fixed_s: float | None = None  # --job-timeout: the same limit for every job
    slowest_s_per_epoch: float | None = None  # measured so far

    def observe(self, seconds: float, epochs: int) -> None:
        """A job of ``epochs`` epochs finished in ``seconds``."""
        rate = seconds / max(1, epochs)
        if self.slowest_s_per_epoch is None or rate > self.slowest_s_per_epoch:
            self.slowest_s_per_epoch = rate

    def limit_s(self, job: EvalJob) -> float:
        """How long ``job`` may run."""
        if self.fixed_s is not None:
            return self.fixed_s
        if self.slowest_s_per_epoch is None:
            return max(INITIAL_S, INITIAL_S_PER_EPOCH * job.epochs_run)
        return max(FLOOR_S, MULTIPLE * self.slowest_s_per_epoch * job.epochs_run)

    def describe(self) -> str:
        if self.fixed_s is not None:
            return f"{self.fixed_s:g} s per job (--job-timeout)"
        return (f"{MULTIPLE:g} x the slowest seconds per epoch measured so far x the job's epochs, at least "
                f"{FLOOR_S:g} s (before anything is measured: {INITIAL_S_PER_EPOCH:g} s per epoch, at least "
                f"{INITIAL_S:g} s)")
