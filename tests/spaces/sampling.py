"""Sampling helpers for space tests: a real Optuna trial from a seeded sampler."""

from __future__ import annotations

import optuna


def sample(space, seed: int):
    """Return ``(config, params)`` drawn by a seeded RandomSampler through a real trial."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    trial = study.ask()
    return space.sample(trial), dict(trial.params)
