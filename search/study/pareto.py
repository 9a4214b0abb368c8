"""The study's fronts: which trials finished, and which of them no other beats on both objectives.

Accuracy is maximized and latency minimized; ``non_dominated_ranks`` is pure
(successive halving ranks a rung with it), the others read a study.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.study.record import TrialRecord, TrialStatus

__all__ = ["non_dominated_ranks", "completed", "pareto_front"]


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """``a`` = (accuracy, latency) is at least as good in both and better in one."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def non_dominated_ranks(points: Sequence[tuple[float, float]]) -> list[int]:
    """Front index of each (accuracy, latency) point: 0 for the Pareto front, 1 for the next, ..."""
    n = len(points)
    dominated_by = [0] * n
    dominates: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if _dominates(points[i], points[j]):
                dominates[i].append(j)
                dominated_by[j] += 1
            elif _dominates(points[j], points[i]):
                dominates[j].append(i)
                dominated_by[i] += 1
    ranks = [0] * n
    front = [i for i in range(n) if dominated_by[i] == 0]
    rank = 0
    while front:
        nxt = []
        for i in front:
            ranks[i] = rank
            for j in dominates[i]:
                dominated_by[j] -= 1
                if dominated_by[j] == 0:
                    nxt.append(j)
        front, rank = nxt, rank + 1
    return ranks


def completed(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that finished their full evaluation within the budget."""
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if TrialRecord.of(t).status is TrialStatus.COMPLETE]


def pareto_front(study: optuna.Study, max_latency_ms: float | None = None) -> list[FrozenTrial]:
    """Non-dominated completed trials (accuracy up, predicted upper bound down), fastest first."""
    trials = [t for t in completed(study) if max_latency_ms is None or t.values[1] <= max_latency_ms]
    ranks = non_dominated_ranks([(t.values[0], t.values[1]) for t in trials])
    front = [t for t, r in zip(trials, ranks) if r == 0]
    return sorted(front, key=lambda t: (t.values[1], -t.values[0], t.number))
