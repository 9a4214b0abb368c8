"""Accuracy of a predictor on held-out architectures, beside the FLOPs-linear baseline.

Metrics: share within ±5% and ±10%, MAPE, Spearman and Kendall rank
correlations and the empirical coverage of the upper bound.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from spaces import LayerSpec

from .data import check_latencies
from .errors import PredictorError
from .features import feature_matrix
from .models import fit_flops_baseline, fit_predictor

__all__ = ["accuracy_metrics", "evaluate", "evaluate_split", "plot_predicted_vs_measured"]

log = logging.getLogger(__name__)


def accuracy_metrics(predicted: np.ndarray, measured: np.ndarray, upper: np.ndarray | None = None
                     ) -> dict[str, float]:
    """within5 / within10 / mape as fractions; spearman, kendall; coverage of ``upper`` if given."""
    predicted, measured = np.asarray(predicted, float), np.asarray(measured, float)
    rel = np.abs(predicted - measured) / measured
    out = {"n": int(measured.size), "within5": float(np.mean(rel <= 0.05)),
           "within10": float(np.mean(rel <= 0.10)), "mape": float(np.mean(rel)),
           "spearman": float(stats.spearmanr(predicted, measured).statistic),
           "kendall": float(stats.kendalltau(predicted, measured).statistic)}
    if upper is not None:
        out["upper_coverage"] = float(np.mean(measured <= np.asarray(upper, float)))
    return out


def evaluate_split(train_archs: Sequence[Sequence[LayerSpec]] | np.ndarray, train_latency_ms: Sequence[float],
                   test_archs: Sequence[Sequence[LayerSpec]] | np.ndarray, test_latency_ms: Sequence[float],
                   precision: str = "fp32", coverage: float = 0.9, random_state: int = 0,
                   return_predictions: bool = False) -> dict[str, Any]:
    """Fit the predictor and the FLOPs baseline on the train part; metrics of both on the test part."""
    X_train = train_archs if isinstance(train_archs, np.ndarray) else feature_matrix(train_archs, precision)
    X_test = test_archs if isinstance(test_archs, np.ndarray) else feature_matrix(test_archs, precision)
    y_train = check_latencies(train_latency_ms, len(X_train))
    y_test = check_latencies(test_latency_ms, len(X_test))
    predictor = fit_predictor(X_train, y_train, precision, coverage, random_state)
    p50, upper = predictor.predict_with_upper(X_test)
    flops = fit_flops_baseline(X_train, y_train, precision).predict(X_test)
    result: dict[str, Any] = {
        "n_train": int(len(y_train)), "n_test": int(len(y_test)), "coverage_stated": coverage,
        "model_choice": predictor.choice, "cv_scores": predictor.cv_scores,
        "predictor": accuracy_metrics(p50, y_test, upper), "flops_baseline": accuracy_metrics(flops, y_test)}
    if return_predictions:
        result["predictions"] = {"measured_ms": y_test, "p50_ms": p50, "upper_ms": upper, "flops_ms": flops}
    return result


def evaluate(archs: Sequence[Sequence[LayerSpec]] | np.ndarray, latency_ms: Sequence[float], train_size: int,
             seed: int = 0, coverage: float = 0.9, precision: str = "fp32",
             return_predictions: bool = False) -> dict[str, Any]:
    """Random split (fixed ``seed``): ``train_size`` archs to fit, every other arch held out."""
    X = archs if isinstance(archs, np.ndarray) else feature_matrix(archs, precision)
    y = check_latencies(latency_ms, len(X))
    if not 0 < train_size < len(y):
        raise PredictorError(f"train_size must be in 1..{len(y) - 1}, got {train_size}")
    order = np.random.default_rng(seed).permutation(len(y))
    train, test = order[:train_size], order[train_size:]
    return evaluate_split(X[train], y[train], X[test], y[test], precision, coverage, seed, return_predictions)


def plot_predicted_vs_measured(measured_ms: np.ndarray, predicted_ms: np.ndarray, path: str | Path,
                               title: str = "", upper_ms: np.ndarray | None = None,
                               baseline_ms: np.ndarray | None = None) -> Path:
    """Scatter of predicted vs measured latency with the ±10% band; writes a PNG and returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = np.asarray(measured_ms, float)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    if baseline_ms is not None:
        ax.scatter(measured, baseline_ms, s=3, alpha=0.3, color="tab:gray", label="FLOPs-linear")
    if upper_ms is not None:
        ax.scatter(measured, upper_ms, s=3, alpha=0.3, color="tab:orange", label="upper bound")
    ax.scatter(measured, predicted_ms, s=3, alpha=0.5, color="tab:blue", label="predictor p50")
    lo, hi = float(measured.min()) * 0.8, float(measured.max()) * 1.2
    line = np.array([lo, hi])
    ax.plot(line, line, "k-", lw=0.8)
    ax.fill_between(line, line * 0.9, line * 1.1, color="k", alpha=0.08, label="±10%")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="measured latency (ms)",
           ylabel="predicted latency (ms)")
    ax.set_title(title.replace(": ", ":\n", 1), fontsize=9)
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    for axis in (ax.xaxis, ax.yaxis):  # plain numbers; minor log labels overlap
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    log.info("wrote %s", path)
    return path
