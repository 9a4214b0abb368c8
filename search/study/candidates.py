"""Architectures of one or several spaces, sampled from and rebuilt from an Optuna trial.

With one space the trial's params are the space's own (``s0_depth``, ...). With
several, the trial first chooses ``space`` and the space's params are prefixed
with its name (``mobile_cnn.s0_depth``), because Optuna requires one
distribution per param name across a study. ``rebuild`` replays stored params
through the same ``sample()`` code with ``optuna.trial.FixedTrial``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import optuna

from search.errors import SearchError
from spaces import ArchConfig, SearchSpace

__all__ = ["Candidate", "sample_candidate", "rebuild_candidate", "SPACE_PARAM"]

SPACE_PARAM = "space"


class Candidate(NamedTuple):
    space: SearchSpace
    config: ArchConfig


class _PrefixedTrial:
    """Forwards ``suggest_*`` to ``trial`` with ``prefix`` added to every param name."""

    def __init__(self, trial: Any, prefix: str):
        self._trial, self._prefix = trial, prefix

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._trial.suggest_categorical(self._prefix + name, choices)

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> int:
        return self._trial.suggest_int(self._prefix + name, *args, **kwargs)

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> float:
        return self._trial.suggest_float(self._prefix + name, *args, **kwargs)


def sample_candidate(trial: Any, spaces: Mapping[str, SearchSpace]) -> Candidate:
    """Draw a space (when there are several) and an architecture from it."""
    if len(spaces) == 1:
        space = next(iter(spaces.values()))
        return Candidate(space, space.sample(trial))
    name = trial.suggest_categorical(SPACE_PARAM, tuple(spaces))
    space = spaces[name]
    return Candidate(space, space.sample(_PrefixedTrial(trial, name + ".")))


def rebuild_candidate(params: Mapping[str, Any], spaces: Mapping[str, SearchSpace]) -> Candidate:
    """The candidate a trial with ``params`` sampled, replayed through ``FixedTrial``."""
    try:
        return sample_candidate(optuna.trial.FixedTrial(dict(params)), spaces)
    except ValueError as exc:  # FixedTrial: a param is missing or outside the space's choices
        raise SearchError(f"stored params do not describe an architecture of {', '.join(spaces)}: "
                          f"{exc}") from None
