"""Few-shot transfer: a new device from K measurements plus predictors of other devices.

Features of an architecture are the log p50 predictions of the source
devices' predictors (same space) and log FLOPs; a ridge regression (alpha by
leave-one-out) on the K target points maps them to log latency. The upper
bound's quantile comes from the K leave-one-out log residuals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from spaces import LayerSpec

from .data import check_latencies
from .errors import PredictorError
from .features import FEATURE_NAMES, arch_features, feature_matrix
from .models import LatencyPredictor, conformal_quantile, one_thread

__all__ = ["FewShotPredictor", "fit_fewshot"]

_FLOPS_COL = FEATURE_NAMES.index("total_flops")
_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)
_MIN_SHOTS = 4


def _transfer_features(sources: Sequence[LatencyPredictor], X: np.ndarray) -> np.ndarray:
    cols = [np.log(src.predict_features(X)) for src in sources]
    cols.append(np.log1p(X[:, _FLOPS_COL]))
    return np.column_stack(cols)


@dataclass
class FewShotPredictor:
    """p50 and upper bound on a target device from source predictors and K target measurements."""

    sources: tuple[LatencyPredictor, ...]
    model: Any
    log_upper_q: float
    coverage: float
    precision: str
    alpha: float

    def predict(self, archs: Sequence[Sequence[LayerSpec]] | np.ndarray) -> np.ndarray:
        X = archs if isinstance(archs, np.ndarray) else feature_matrix(archs, self.precision)
        return np.exp(self.model.predict(_transfer_features(self.sources, X)))

    def predict_with_upper(self, archs: Sequence[Sequence[LayerSpec]] | np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
        p50 = self.predict(archs)
        return p50, p50 * math.exp(self.log_upper_q)

    def score(self, space: Any, configs: Sequence[Any], input_shape: tuple[int, int, int] | None = None,
              num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Batch-score configs of ``space`` as ``LatencyPredictor.score`` does: ``(p50_ms, upper_ms)``.
        The sources were fitted on the space's full features (its encoding included), so these are too."""
        if not configs:
            return np.zeros(0), np.zeros(0)
        X = arch_features(space, configs, input_shape, num_classes, self.precision)
        return self.predict_with_upper(X)


def _ridge(alpha: float) -> Any:
    return make_pipeline(StandardScaler(), Ridge(alpha=alpha))


@one_thread
def fit_fewshot(sources: Sequence[LatencyPredictor], archs: Sequence[Sequence[LayerSpec]] | np.ndarray,
                latency_ms: Sequence[float], coverage: float = 0.9,
                precision: str = "fp32") -> FewShotPredictor:
    """Fit on K target measurements (``archs``, ``latency_ms``) given source-device predictors."""
    if not sources:
        raise PredictorError("few-shot transfer needs at least one source predictor")
    X = archs if isinstance(archs, np.ndarray) else feature_matrix(archs, precision)
    y = np.log(check_latencies(latency_ms, len(X)))
    if len(y) < _MIN_SHOTS:
        raise PredictorError(f"few-shot transfer needs at least {_MIN_SHOTS} target measurements, got "
                             f"{len(y)}")
    F = _transfer_features(sources, X)
    scaled = StandardScaler().fit_transform(F)
    alpha = float(RidgeCV(alphas=_ALPHAS).fit(scaled, y).alpha_)  # efficient leave-one-out choice
    loo = np.empty_like(y)
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        loo[i] = _ridge(alpha).fit(F[keep], y[keep]).predict(F[i:i + 1])[0]
    q = conformal_quantile(y - loo, coverage)
    model = _ridge(alpha).fit(F, y)
    return FewShotPredictor(tuple(sources), model, q, coverage, precision, alpha)
