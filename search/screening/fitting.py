"""The latency predictor of a profile, fitted on its rows (or a seeded subset) and cached by their hash.

The profile's CSV is the source of truth; fitted predictors are rebuilt from it
deterministically and cached by a hash of the data (``predictors.cache``).
"""

from __future__ import annotations

import numpy as np

from hwprofiles.profile import Measurement, Profile
from hwprofiles.store import cache_dir
from predictors import predictor_for_rows
from search.errors import SearchError
from spaces import create_space

__all__ = ["predictor_for_profile", "subset_rows", "profile_rows"]


def profile_rows(profile: Profile, space: str, precision: str) -> list[Measurement]:
    """The profile's first measurements of ``space`` at ``precision``; an error naming what it has instead."""
    rows = profile.select(space=space, precision=precision)
    if not rows:
        have = sorted({m.precision for m in profile.select(space=space)})
        raise SearchError(f"profile {profile.name} has no {precision} measurements of {space}; it has {have}")
    return rows


def subset_rows(rows: list, max_rows: int | None, seed: int = 0) -> list:
    """A seeded subset of at most ``max_rows`` rows, in their original order."""
    if max_rows is None or len(rows) <= max_rows:
        return rows
    keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_rows, replace=False))
    return [rows[i] for i in keep]


def predictor_for_profile(profile: Profile, space: str, precision: str = "fp32", max_rows: int | None = None,
                          seed: int = 0, coverage: float = 0.9):
    """The cached predictor of one profile (all rows, or a seeded subset of ``max_rows``)."""
    rows = subset_rows(profile_rows(profile, space, precision), max_rows, seed)
    return predictor_for_rows(rows, create_space(space), precision, coverage=coverage,
                              cache_dir=cache_dir() / "predictors")
