"""Which architectures to measure: balanced (Latin-hypercube) coverage of every choice.

A profile must cover the space, not cluster where a random sampler happens to
land: over N draws, each choice of each parameter appears N/k times (k
choices), paired across parameters by independent random permutations. The
smallest and the largest architecture are always included.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from spaces import ArchConfig, SearchSpace

__all__ = ["BalancedTrial", "plan_architectures"]


class BalancedTrial:
    """Duck-typed Optuna trial: draw ``index`` of ``count`` balanced draws (spaces use only suggest_*)."""

    def __init__(self, index: int, count: int, seed: int):
        self.index, self.count, self.seed = index, count, seed
        self.params: dict[str, Any] = {}

    def _permutation(self, name: str) -> np.ndarray:
        digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        return rng.permutation(self.count)

    def suggest_categorical(self, name: str, choices):
        choices = tuple(choices)
        value = choices[int(self._permutation(name)[self.index]) % len(choices)]
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False):
        return self.suggest_categorical(name, tuple(range(low, high + 1, step)))


def plan_architectures(space: SearchSpace, count: int, seed: int = 0) -> list[ArchConfig]:
    """``count`` distinct configs: the extremes first, then balanced draws."""
    small, large = space.extremes()
    planned: dict[str, ArchConfig] = {small.arch_str: small, large.arch_str: large}
    draws = max(count, 1) * 2  # duplicates are possible in small spaces; draw extra
    for i in range(draws):
        if len(planned) >= count:
            break
        config = space.sample(BalancedTrial(i, draws, seed))
        planned.setdefault(config.arch_str, config)
    return list(planned.values())[:count]
