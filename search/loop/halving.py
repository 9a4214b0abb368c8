"""Successive halving across two objectives: accuracy (up) and latency (down).

Optuna's pruners compare one intermediate value; here a rung's survivors are
chosen by non-dominated rank over (validation accuracy at the rung, predicted
latency bound), ties within a front broken by accuracy. A trial that finished
rung ``r`` goes on when it ranks in the top ``1 / rate`` of every trial of the
study that finished rung ``r`` (asynchronous successive halving's rule, applied
to a Pareto ranking). Pure functions: no Optuna, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from search.errors import SearchError
from search.study.pareto import non_dominated_ranks

__all__ = ["rung_epochs", "promote"]


def rung_epochs(max_epochs: int, rate: float | None, min_epochs: int = 1) -> tuple[int, ...]:
    """Epoch counts of the rungs, ascending, ending at ``max_epochs``: 9, rate 3 -> (1, 3, 9).

    ``rate`` None (halving off) gives the single rung ``(max_epochs,)``.
    """
    if not isinstance(max_epochs, int) or max_epochs < 1:
        raise SearchError(f"--epochs must be a positive integer, got {max_epochs!r}")
    if rate is None:
        return (max_epochs,)
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 1):
        raise SearchError(f"--halving-rate must be a number above 1, got {rate!r}")
    rungs = {max_epochs}
    k = 1
    while max_epochs / rate**k >= min_epochs:
        rungs.add(max(min_epochs, round(max_epochs / rate**k)))
        k += 1
    return tuple(sorted(rungs))


def promote(pool: dict[int, tuple[float, float]], candidates: Sequence[int], rate: float) -> set[int]:
    """Which ``candidates`` (keys of ``pool``) rank in the top ``ceil(len(pool) / rate)`` of the pool.

    ``pool`` maps a trial number to its (accuracy at this rung, latency bound); the
    order is (front, -accuracy, latency, trial number), so it is deterministic.
    """
    numbers = sorted(pool)
    ranks = non_dominated_ranks([pool[k] for k in numbers])
    order = sorted(range(len(numbers)), key=lambda i: (ranks[i], -pool[numbers[i]][0], pool[numbers[i]][1],
                                                       numbers[i]))
    keep = {numbers[i] for i in order[:math.ceil(len(numbers) / rate)]}
    return {c for c in candidates if c in keep}
