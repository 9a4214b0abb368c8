"""Screening: the device's latency predictors score a candidate before any training.

A candidate is feasible when its predicted upper bound (conformal, at the
stated coverage) is within the budget; the budget defaults to the median
predicted upper bound over balanced samples of the searched spaces.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from hwprofiles.profile import Profile
from hwprofiles.sampling import plan_architectures
from hwprofiles.store import open_profile
from predictors import FewShotPredictor, LatencyPredictor, data_hash
from predictors.cache import CODE_VERSION
from predictors.data import default_num_classes
from search.errors import SearchError
from search.screening.fitting import SOURCE_ROWS_CAP, ScreeningPredictor, screening_predictor, subset_rows
from spaces import ArchConfig, SearchSpace, create_space

__all__ = ["Screen", "Score"]

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Score:
    p50_ms: float
    upper_ms: float


class Screen:
    """Per-space predictors of one device and precision; ``score`` gives (p50, upper) for a candidate."""

    def __init__(self, profile: Profile, spaces: Mapping[str, SearchSpace], precision: str = "fp32",
                 coverage: float = 0.9, in_chans: int = 3, num_classes: int = 10,
                 max_rows: int | None = None, prior: str = "auto", progress: Progress | None = None):
        self.profile, self.spaces, self.precision, self.prior = profile, dict(spaces), precision, prior
        self.coverage, self.in_chans, self.num_classes = coverage, in_chans, num_classes
        for name in self.spaces:
            if name not in profile.spaces:
                raise SearchError(f"device {profile.name!r} has no measurements of space {name!r} (it covers "
                                  f"{', '.join(profile.spaces) or 'nothing'}); profile it: "
                                  f"python -m search profile --device {profile.name} --space {name}")
        # the few-shot sources are fitted on as many rows as the device's own predictor may be
        source_rows = min(SOURCE_ROWS_CAP, max_rows or SOURCE_ROWS_CAP)
        self.screening: dict[str, ScreeningPredictor] = {
            name: screening_predictor(profile, name, precision, max_rows, coverage, prior, source_rows,
                                      progress)
            for name in self.spaces}
        self.predictors: dict[str, LatencyPredictor | FewShotPredictor] = {
            name: s.predictor for name, s in self.screening.items()}
        self.max_rows = max_rows
        # features are computed as the predictor was fitted: by the space with its default options
        self._feature_spaces = {name: create_space(name) for name in self.spaces}

    def reloaded(self) -> Screen:
        """The same screen fitted on the profile as it is on disk now (rows appended since are used)."""
        return Screen(open_profile(self.profile.name), self.spaces, self.precision, self.coverage,
                      self.in_chans, self.num_classes, self.max_rows, self.prior)

    def score(self, space: SearchSpace, config: ArchConfig) -> Score:
        p50, upper = self.score_many(space, [config])
        return Score(float(p50[0]), float(upper[0]))

    def score_many(self, space: SearchSpace, configs: list[ArchConfig]) -> tuple[np.ndarray, np.ndarray]:
        """(p50_ms, upper_ms) arrays; configs are batched by input shape."""
        p50, upper = np.zeros(len(configs)), np.zeros(len(configs))
        groups: dict[tuple, list[int]] = {}
        for i, c in enumerate(configs):
            groups.setdefault(space.input_shape(c, self.in_chans), []).append(i)
        for shape, idx in groups.items():
            a, b = self.predictors[space.name].score(self._feature_spaces[space.name],
                                                     [configs[i] for i in idx], shape, self.num_classes)
            p50[idx], upper[idx] = a, b
        return p50, upper

    def default_budget_ms(self, samples: int = 1000, seed: int = 0) -> float:
        """The median predicted upper bound over balanced samples of the searched spaces (3 significant
        digits): about half of what the sampler proposes at first is feasible."""
        uppers = []
        for space in self.spaces.values():
            uppers.append(self.score_many(space, plan_architectures(space, samples, seed))[1])
        return float(f"{np.median(np.concatenate(uppers)):.3g}")

    def fastest(self) -> tuple[str, Score]:
        """The smallest architecture of each space, scored; the fastest of them."""
        best = None
        for name, space in self.spaces.items():
            score = self.score(space, space.extremes()[0])
            if best is None or score.upper_ms < best[1].upper_ms:
                best = (name, score)
        assert best is not None
        return best

    def check_budget(self, budget_ms: float) -> None:
        name, score = self.fastest()
        if score.upper_ms > budget_ms:
            raise SearchError(f"--latency-ms {budget_ms:g} is below what any architecture can meet on "
                           f"{self.profile.name}: the smallest {name} architecture is predicted at "
                           f"{score.p50_ms:.4g} ms (upper bound {score.upper_ms:.4g} ms)")

    def versions(self) -> dict[str, str]:
        """Short hashes of the profile rows and the fitted predictors, stored with every trial."""
        rows = {name: self.profile.select(space=name, precision=self.precision) for name in self.spaces}
        if self.max_rows is not None:  # the same seeded subset the predictor was fitted on
            rows = {name: subset_rows(r, self.max_rows) for name, r in rows.items()}
        digest = hashlib.sha256()
        for name in sorted(rows):
            for r in rows[name]:
                digest.update(f"{r.space}\t{r.arch_str}\t{r.input_shape}\t{r.latency_ms!r}\n".encode())
        predictor = {name: data_hash(rows[name], name, self.precision, default_num_classes(name),
                                     self.coverage, 0)[:16]
                     for name in sorted(rows)}
        return {"profile": f"{self.profile.name}@{digest.hexdigest()[:16]}",
                "predictor": f"{CODE_VERSION}:" + ",".join(f"{k}={v}" for k, v in predictor.items()),
                "screen": "; ".join(f"{name} {s.describe()}" for name, s in sorted(self.screening.items()))}
