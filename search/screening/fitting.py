"""The latency predictor of a profile, fitted on its rows (or a seeded subset) and cached by their hash.

The profile's CSV is the source of truth; fitted predictors are rebuilt from it
deterministically and cached by a hash of the data (``predictors.cache``).

A profile with few rows of a space (an imported 20-architecture kit) gets the
few-shot transfer instead (``predictors.fewshot``): the predictors of every other
profile of that space, mapped onto this device by its own rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwprofiles.profile import DEVICE_FILE, MEASUREMENTS_FILE, Measurement, Profile, load_profile
from hwprofiles.store import SHIPPED_CHOICES_DIR, cache_dir, profile_dirs
from predictors import FewShotPredictor, LatencyPredictor, fit_fewshot, predictor_for_rows, rows_to_data
from predictors.data import default_num_classes
from search.errors import SearchError
from search.study.settings import FEWSHOT_BELOW_ROWS, PRIORS
from spaces import create_space

__all__ = ["predictor_for_profile", "fit_rows", "subset_rows", "profile_rows", "fewshot_sources",
           "screening_predictor", "ScreeningPredictor", "SOURCE_ROWS_CAP", "uses_fewshot", "is_source"]

Progress = Callable[[str, int, int], None]
SOURCE_ROWS_CAP = 900  # each source profile's predictor is fitted on a seeded subset of this many rows


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


def fit_rows(profile: Profile, space: str, precision: str, max_rows: int | None, seed: int = 0) -> list:
    """The rows a profile's predictor is fitted on: all, or a seeded subset of ``max_rows``."""
    return subset_rows(profile_rows(profile, space, precision), max_rows, seed)


def predictor_for_profile(profile: Profile, space: str, precision: str = "fp32", max_rows: int | None = None,
                          seed: int = 0, coverage: float = 0.9):
    """The cached predictor of one profile (all rows, or a seeded subset of ``max_rows``); a shipped
    profile's model choice ships with it (``search.screening.shipped_choices``)."""
    rows = fit_rows(profile, space, precision, max_rows, seed)
    return predictor_for_rows(rows, create_space(space), precision, coverage=coverage,
                              cache_dir=cache_dir() / "predictors", shipped_dir=SHIPPED_CHOICES_DIR)


def fewshot_sources(target: str, space: str, precision: str, max_rows: int = SOURCE_ROWS_CAP,
                    seed: int = 0, progress: Progress | None = None) -> list[tuple[str, LatencyPredictor]]:
    """The predictor of every other profile with a predictor of its own for ``space`` at ``precision``
    (at least ``FEWSHOT_BELOW_ROWS`` rows; shipped and measured), each fitted on at most ``max_rows`` of its
    rows (cached like any profile's)."""
    others = [other for name, folder in profile_dirs().items() if name != target
              for other in [_read_source(folder)] if is_source(other, space, precision)]
    sources = []
    for done, other in enumerate(others):
        if progress:
            progress(f"few-shot sources of {space}", done, len(others))
        sources.append((other.name, predictor_for_profile(other, space, precision, max_rows, seed)))
    if progress and others:
        progress(f"few-shot sources of {space}", len(others), len(others))
    return sources


_SOURCES: dict[Path, tuple[tuple, Profile]] = {}


def _read_source(folder: Path) -> Profile:
    """The profile in ``folder``, read again only when its files changed: a screen refitted as candidates
    are timed asks for the same sources each time."""
    stamp = tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in ((folder / f).stat() for f in (DEVICE_FILE,
                                                                                     MEASUREMENTS_FILE)
                                                       if (folder / f).exists()))
    cached = _SOURCES.get(folder)
    if cached is None or cached[0] != stamp:
        cached = _SOURCES[folder] = (stamp, load_profile(folder, check_arch=False))
    return cached[1]


def is_source(profile: Profile, space: str, precision: str) -> bool:
    """Whether ``profile`` can lend its predictor of ``space`` to a device with few rows."""
    return (space in profile.spaces
            and len(profile.select(space=space, precision=precision)) >= FEWSHOT_BELOW_ROWS)


@dataclass(frozen=True)
class ScreeningPredictor:
    """What screens one space of a device: its own rows' predictor, or the few-shot transfer."""

    predictor: LatencyPredictor | FewShotPredictor
    kind: str  # "full" or "few-shot"
    rows: int  # the device's own rows it was fitted on
    sources: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "full":
            return f"full: {self.rows} rows"
        return f"few-shot: {self.rows} rows + {len(self.sources)} devices ({', '.join(self.sources)})"


def uses_fewshot(rows: int, prior: str) -> bool:
    """Whether a device with ``rows`` of a space is screened by the transfer (given a source profile)."""
    if prior not in PRIORS:
        raise SearchError(f"--prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    return prior == "auto" and rows < FEWSHOT_BELOW_ROWS


def screening_predictor(profile: Profile, space: str, precision: str = "fp32", max_rows: int | None = None,
                        coverage: float = 0.9, prior: str = "auto", source_rows: int = SOURCE_ROWS_CAP,
                        progress: Progress | None = None) -> ScreeningPredictor:
    """The predictor that screens ``space`` on ``profile``: few-shot where it has fewer than
    ``FEWSHOT_BELOW_ROWS`` rows and ``prior`` is "auto" (and another profile of the space exists), else
    its own rows'."""
    measured = profile_rows(profile, space, precision)
    rows = subset_rows(measured, max_rows)
    if uses_fewshot(len(measured), prior):
        sources = fewshot_sources(profile.name, space, precision, source_rows, progress=progress)
        if sources:
            data = rows_to_data(rows, create_space(space), precision, default_num_classes(space))
            model = fit_fewshot([p for _, p in sources], data.X, data.latency_ms, coverage, precision)
            return ScreeningPredictor(model, "few-shot", len(rows), tuple(n for n, _ in sources))
    return ScreeningPredictor(predictor_for_profile(profile, space, precision, max_rows, coverage=coverage),
                              "full", len(rows))
