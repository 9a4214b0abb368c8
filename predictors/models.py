"""Latency models over the named features (scikit-learn, never torch).

* :class:`AdditiveModel` -- latency as a non-negative sum over op kinds
  (count, FLOPs and bytes of each kind, plus an intercept), the lookup-table
  idea of nn-Meter fitted by non-negative least squares on milliseconds;
  optionally over the space's encoding too (a lookup table per position, plus
  counts a space adds).
* :class:`LatencyPredictor` -- the additive model, optionally corrected by a
  model of ``log(latency) - log(additive)`` on the log1p named features (gradient
  boosting on the squared or the absolute error, or a Gaussian process, which
  does better on small profiles),
  chosen by K-fold cross-validation (or the geometric mean of the two best
  candidates, "a&b", where its out-of-fold predictions score better and it
  scores configs as fast as the costliest single candidate), with a
  conformal upper bound from the chosen model's log-ratio residuals out of 20 folds (the
  cross-validation's own 5 from 900 rows on).
* :class:`FlopsLinearBaseline` -- ``latency = a * flops + b``, for comparisons.

Everything is deterministic for a given ``random_state``.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from spaces import KINDS, LayerSpec

from .data import check_latencies
from .errors import PredictorError
from .features import FEATURE_NAMES, PRECISIONS, arch_features, feature_matrix
from .parallel import fit_jobs, one_thread

__all__ = ["AdditiveModel", "FlopsLinearBaseline", "LatencyPredictor", "CANDIDATES", "ModelChoice",
           "blendable", "choice_parts", "fit_jobs", "fit_predictor", "conformal_quantile",
           "fit_flops_baseline", "log_ratio_metrics", "refit_predictor"]

log = logging.getLogger(__name__)

_ADDITIVE_NAMES = tuple(f"{kind}_{stat}" for kind in KINDS for stat in ("count", "flops", "bytes"))
_ADDITIVE_COLS = np.array([FEATURE_NAMES.index(name) for name in _ADDITIVE_NAMES])
_FLOPS_COL = FEATURE_NAMES.index("total_flops")
_MIN_ROWS = 5

@dataclass(frozen=True)
class ModelChoice:
    """One model choice compared by cross-validation.

    The additive part sums costs over the op kinds, or (``encoding``) over the op kinds and the space's
    encoding (a lookup table per position, plus the counts a space adds, such as nb201's ops as each runtime
    runs them); ``trimmed`` refits it robustly, in relative error, giving the rows it misses by far no weight
    (below). The ``correction`` of its log residuals is None, "gp" (a Gaussian process) or
    HistGradientBoosting kwargs; "absolute_error" boosting fits the median, which one mis-timed architecture
    cannot drag (the phones' published latencies have such).
    ``typical_rows_only`` fits the correction on the rows the trimmed fit kept, so mis-timed rows shape
    neither.
    """

    encoding: bool
    correction: dict[str, Any] | str | None = None
    trimmed: bool = False
    typical_rows_only: bool = False

    @property
    def boosting_iterations(self) -> int:
        return self.correction.get("max_iter", 100) if isinstance(self.correction, dict) else 0


_MEDIAN_BOOSTING = {"loss": "absolute_error", "max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 15,
                    "min_samples_leaf": 5}
#: At most 200 boosting iterations each: scoring must stay >= 10,000 configs/s with the features included
#: (measured for every choice by benchmarks/predictor_throughput.py; 400 iterations of 31 leaves fell below).
CANDIDATES: dict[str, ModelChoice] = {
    "additive": ModelChoice(encoding=False),
    "additive+gbm_small": ModelChoice(False, {"max_iter": 200, "learning_rate": 0.08, "max_leaf_nodes": 15,
                                            "min_samples_leaf": 10}),
    "additive+gp": ModelChoice(False, "gp"),
    "lookup": ModelChoice(encoding=True),
    "lookup_trimmed": ModelChoice(True, trimmed=True),
    "lookup_trimmed+gbm_median": ModelChoice(True, _MEDIAN_BOOSTING, trimmed=True),
    "lookup_trimmed+gbm_typical": ModelChoice(True, _MEDIAN_BOOSTING, trimmed=True, typical_rows_only=True),
    "lookup+gbm_median": ModelChoice(True, _MEDIAN_BOOSTING),
}
#: "trimmed": a robust refit of the plain one (iteratively reweighted least squares, at most TRIM_ROUNDS
#: times): each row's weight is Tukey's biweight of its log residual (rows missed by more than TRIM_SIGMAS
#: robust deviations weigh nothing) over its latency squared, so the fit minimises relative, not absolute,
#: error; it stops where fewer than TRIM_MIN_KEPT of the rows would keep any weight. Published CPU timings
#: hold bursts of consecutive architectures all timed slow, far more than chance would put together, and
#: least squares bends the whole table towards them; the Raspberry Pi 4's nb201 timings hold such rows too.
#: benchmarks/results/predictor_accuracy.json has the burst reference and the held-out accuracy of each fit.
TRIM_SIGMAS, TRIM_FLOOR, TRIM_ROUNDS, TRIM_MIN_KEPT = 3.0, 0.03, 15, 0.5
#: the GP's fit is cubic in the rows: above this it is not a candidate. On 900 nb201 rows its folds cost
#: about as much as every other candidate's together, and it beat the best of them on no published device
#: (benchmarks/results/fit_time.json, "candidates")
GP_MAX_ROWS = 600
BLEND = "&"  # "a&b": the geometric mean of candidates a and b
MAX_BLEND_ITERATIONS = 200  # as many boosting iterations as the costliest single candidate holds
CALIBRATION_FOLDS = 20  # folds of the chosen model's out-of-fold residuals that set the upper bound
#: from this many rows on, the CV's own 5-fold residuals set it: on 900 nb201 rows the bound covered the
#: same with 5 folds as with 20, on 500 FBNet rows 5 folds still over-covered
#: (benchmarks/results/calibration_folds.json; FBNet at 900 rows: fit_time.json, eval900_fbnet)
CV_CALIBRATES_FROM_ROWS = 900


def blendable(a: str, b: str) -> bool:
    """Whether a blend of ``a`` and ``b`` scores as fast as the costliest single candidate: no Gaussian
    process (its cost grows with the training rows) and no more boosting iterations than that candidate."""
    pair = (CANDIDATES[a], CANDIDATES[b])
    if any(c.correction == "gp" for c in pair):
        return False
    return sum(c.boosting_iterations for c in pair) <= MAX_BLEND_ITERATIONS


def choice_parts(choice: str) -> list[str]:
    """The candidates a choice is made of (one, or two for a blend); an error for an unknown name."""
    parts = choice.split(BLEND) if isinstance(choice, str) else []
    if not 1 <= len(parts) <= 2 or any(p not in CANDIDATES for p in parts) or (
            len(parts) == 2 and not blendable(*parts)):
        raise PredictorError(f"unknown model choice {choice!r}; valid: {', '.join(CANDIDATES)}, or two of "
                             f"them joined by {BLEND!r} (no Gaussian process, at most {MAX_BLEND_ITERATIONS} "
                             "boosting iterations together)")
    return parts


def _as_features(archs: Sequence[Sequence[LayerSpec]] | np.ndarray, precision: str) -> np.ndarray:
    if isinstance(archs, np.ndarray):
        if archs.ndim != 2 or archs.shape[1] < len(FEATURE_NAMES):
            raise PredictorError(f"feature matrix must have shape (n, >= {len(FEATURE_NAMES)}): the named "
                                 f"features, then optionally the space's encoding; got {archs.shape}")
        return archs
    return feature_matrix(archs, precision).reshape(-1, len(FEATURE_NAMES))


def _check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise PredictorError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    return precision


@dataclass
class AdditiveModel:
    """``latency_ms = intercept + sum_k coef_k * feature_k`` with every coef >= 0."""

    coef: np.ndarray = field(default_factory=lambda: np.zeros(len(_ADDITIVE_NAMES)))
    intercept: float = 0.0
    floor_ms: float = 1e-3
    with_encoding: bool = False  # the space's encoding columns join the op kinds' columns
    # a robust refit, in relative error, that gives rows it misses by far no weight (below)
    trimmed: bool = False
    # rows with weight in the last fit (not stored)
    kept_rows: np.ndarray | None = field(default=None, repr=False)

    def _columns(self, X: np.ndarray) -> np.ndarray:
        if not self.with_encoding:
            return X[:, _ADDITIVE_COLS]
        return np.column_stack([X[:, _ADDITIVE_COLS], X[:, len(FEATURE_NAMES):]])

    def fit(self, X: np.ndarray, y: np.ndarray) -> AdditiveModel:
        A = self._columns(X)
        scale = np.abs(A).max(axis=0)
        scale[scale == 0] = 1.0
        A = A / scale
        self.floor_ms = float(0.1 * y.min())
        weight = np.ones(len(y))
        for _ in range(TRIM_ROUNDS + 1 if self.trimmed else 1):
            reg = LinearRegression(positive=True).fit(A, y, sample_weight=weight)
            self.coef, self.intercept = reg.coef_ / scale, float(reg.intercept_)
            if not self.trimmed:
                break
            robust = _biweights(np.log(y) - np.log(self.predict(X)))
            if (robust > 0).sum() < max(_MIN_ROWS, TRIM_MIN_KEPT * len(y)):
                break
            # relative error: a 1 ms miss matters more on a 5 ms net than a 50 ms one
            weight_next = robust / y**2
            if np.allclose(weight_next / weight_next.sum(), weight / weight.sum(), rtol=0, atol=1e-6):
                break
            weight = weight_next
        self.kept_rows = weight > 0
        return self

    @property
    def rows_used(self) -> int | None:
        return None if self.kept_rows is None else int(self.kept_rows.sum())

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.maximum(self._columns(X) @ self.coef + self.intercept, self.floor_ms)

    def to_dict(self) -> dict[str, Any]:
        names = [*_ADDITIVE_NAMES, *(f"encoding_{i}" for i in range(len(self.coef) - len(_ADDITIVE_NAMES)))]
        return {"intercept_ms": self.intercept, "floor_ms": self.floor_ms, "trimmed": self.trimmed,
                "rows_used": self.rows_used, "coef": {name: float(c) for name, c in zip(names, self.coef)}}


def _biweights(log_residuals: np.ndarray) -> np.ndarray:
    """Tukey's biweight of each row: 0 beyond TRIM_SIGMAS robust standard deviations (1.4826 MAD, at least
    TRIM_FLOOR together) of the median log residual, (1 - u^2)^2 within, u the distance in that unit."""
    centred = log_residuals - np.median(log_residuals)
    sigma = 1.4826 * np.median(np.abs(centred))
    u = centred / max(TRIM_SIGMAS * sigma, TRIM_FLOOR)
    return np.where(np.abs(u) < 1.0, (1.0 - u**2) ** 2, 0.0)


@dataclass
class FlopsLinearBaseline:
    """``latency_ms = a * total_flops + b``: the baseline every predictor is compared with."""

    slope: float = 0.0
    intercept: float = 0.0
    floor_ms: float = 1e-3

    def fit(self, archs: Sequence[Sequence[LayerSpec]] | np.ndarray, latency_ms: Sequence[float],
            precision: str = "fp32") -> FlopsLinearBaseline:
        X = _as_features(archs, _check_precision(precision))
        y = check_latencies(latency_ms, len(X))
        reg = LinearRegression().fit(X[:, [_FLOPS_COL]] / 1e9, y)
        self.slope, self.intercept = float(reg.coef_[0]) / 1e9, float(reg.intercept_)
        self.floor_ms = float(0.1 * y.min())
        return self

    def predict(self, archs: Sequence[Sequence[LayerSpec]] | np.ndarray,
                precision: str = "fp32") -> np.ndarray:
        X = _as_features(archs, precision)
        return np.maximum(X[:, _FLOPS_COL] * self.slope + self.intercept, self.floor_ms)


def fit_flops_baseline(archs: Sequence[Sequence[LayerSpec]] | np.ndarray, latency_ms: Sequence[float],
                       precision: str = "fp32") -> FlopsLinearBaseline:
    return FlopsLinearBaseline().fit(archs, latency_ms, precision)


def _gbm_inputs(X: np.ndarray, additive_ms: np.ndarray) -> np.ndarray:
    """Column-major: the trees read one feature of consecutive rows, so a row-major matrix (hundreds of
    columns: fbnet's encoding) costs a cache miss per node visited; this scores boosted models 3-6x faster."""
    out = np.empty((len(X), X.shape[1] + 1), order="F")
    np.log1p(np.maximum(X, 0.0), out=out[:, :-1])
    out[:, -1] = np.log(additive_ms)
    return out


def _gaussian_process(random_state: int):
    """An isotropic RBF Gaussian process with a learned noise level, on standardized inputs."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kernel = ConstantKernel(1.0) * RBF(3.0) + WhiteKernel(1e-2)
    return make_pipeline(StandardScaler(), GaussianProcessRegressor(kernel, normalize_y=True,
                                                                    random_state=random_state))


class _GaussianProcessMean:
    """The posterior mean of a fitted RBF Gaussian-process pipeline, computed with one matrix product
    (squared distances through BLAS) instead of scikit-learn's pairwise loop: the screen scores
    thousands of candidates a second against up to ``GP_MAX_ROWS`` training rows."""

    def __init__(self, pipeline: Any):
        scaler, gp = pipeline[0], pipeline[-1]
        kernel = gp.kernel_.k1  # ConstantKernel * RBF (+ WhiteKernel, which adds nothing off the diagonal)
        self.mean, self.scale = scaler.mean_, scaler.scale_
        self.constant = float(kernel.k1.constant_value)
        self.length_scale = float(kernel.k2.length_scale)
        self.train = gp.X_train_ / self.length_scale
        self.train_sq = np.einsum("ij,ij->i", self.train, self.train)
        self.alpha = gp.alpha_.ravel()
        self.y_mean, self.y_std = float(np.ravel(gp._y_train_mean)[0]), float(np.ravel(gp._y_train_std)[0])

    def predict(self, X: np.ndarray) -> np.ndarray:
        Z = (X - self.mean) / self.scale / self.length_scale
        sq = np.einsum("ij,ij->i", Z, Z)[:, None] + self.train_sq[None, :] - 2.0 * (Z @ self.train.T)
        K = np.exp(-0.5 * np.maximum(sq, 0.0))
        return (K @ self.alpha) * self.constant * self.y_std + self.y_mean


def _fit_candidate(X: np.ndarray, y: np.ndarray, candidate: ModelChoice, random_state: int
                   ) -> tuple[AdditiveModel, Any]:
    additive = AdditiveModel(with_encoding=candidate.encoding, trimmed=candidate.trimmed).fit(X, y)
    params = candidate.correction
    if params is None:
        return additive, None
    if candidate.typical_rows_only:
        X, y = X[additive.kept_rows], y[additive.kept_rows]
    base = additive.predict(X)
    if params == "gp":
        corrector = _gaussian_process(random_state)
    else:
        corrector = HistGradientBoostingRegressor(early_stopping=False, random_state=random_state, **params)
    with warnings.catch_warnings():  # a kernel hyper-parameter at its bound is a fit, not a fault
        warnings.simplefilter("ignore", ConvergenceWarning)
        corrector.fit(_gbm_inputs(X, base), np.log(y) - np.log(base))
    return additive, _GaussianProcessMean(corrector) if params == "gp" else corrector


def _predict_candidate(additive: AdditiveModel, corrector: Any, X: np.ndarray) -> np.ndarray:
    base = additive.predict(X)
    if corrector is None:
        return base
    return base * np.exp(corrector.predict(_gbm_inputs(X, base)))


def _predict_parts(parts: Sequence[tuple[AdditiveModel, Any]], X: np.ndarray) -> np.ndarray:
    """A choice's prediction: its one candidate's, or the geometric mean of a blend's two."""
    if len(parts) == 1:
        return _predict_candidate(*parts[0], X)
    return np.exp(np.mean([np.log(_predict_candidate(*part, X)) for part in parts], axis=0))


def log_ratio_metrics(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """Within-5/10% shares and MAPE (fractions, not percent) of ``predicted`` against ``measured``."""
    rel = np.abs(predicted - measured) / measured
    return {"within5": float(np.mean(rel <= 0.05)), "within10": float(np.mean(rel <= 0.10)),
            "mape": float(np.mean(rel))}


def conformal_quantile(log_residuals: np.ndarray, coverage: float) -> float:
    """Split-conformal quantile of ``log(measured / predicted)``: level ceil((n+1) coverage) / n."""
    if not 0.0 < coverage < 1.0:
        raise PredictorError(f"coverage must be in (0, 1), got {coverage!r}")
    r = np.sort(np.asarray(log_residuals, dtype=np.float64))
    n = r.size
    if n == 0:
        raise PredictorError("no residuals to calibrate the upper bound")
    k = math.ceil((n + 1) * coverage)
    return float(r[min(k, n) - 1])


@dataclass
class LatencyPredictor:
    """A fitted latency model of one (device, space, precision): p50 and a conformal upper bound."""

    precision: str
    # (additive, corrector) per candidate of the choice; a blend has two
    parts: list[tuple[AdditiveModel, Any]]
    choice: str
    log_upper_q: float
    coverage: float
    cv_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    random_state: int = 0
    n_train: int = 0
    n_features: int = len(FEATURE_NAMES)  # more when fitted with the space's encoding

    def predict_features(self, X: np.ndarray) -> np.ndarray:
        X = _as_features(X, self.precision)
        if X.shape[1] != self.n_features:
            raise PredictorError(
                f"this predictor was fitted on {self.n_features} features per architecture, got {X.shape[1]}"
                + ("; use score(space, configs) or predictors.arch_features"
                   if self.n_features > len(FEATURE_NAMES)
                   else ""))
        return _predict_parts(self.parts, X)

    def predict(self, archs: Sequence[Sequence[LayerSpec]] | np.ndarray) -> np.ndarray:
        """Median latency (ms) of each architecture (LayerSpec lists or a feature matrix)."""
        return self.predict_features(_as_features(archs, self.precision))

    def predict_with_upper(self, archs: Sequence[Sequence[LayerSpec]] | np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
        p50 = self.predict(archs)
        return p50, p50 * math.exp(self.log_upper_q)

    def score(self, space: Any, configs: Sequence[Any], input_shape: tuple[int, int, int] | None = None,
              num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Batch-score configs of ``space``: ``(p50_ms, upper_ms)``, feature extraction included.

        ``input_shape`` defaults to each config's own ``space.input_shape(config)``.
        """
        if not configs:
            return np.zeros(0), np.zeros(0)
        if self.n_features > len(FEATURE_NAMES):
            return self.predict_with_upper(arch_features(space, configs, input_shape, num_classes,
                                                         self.precision))
        layers = space.layers
        if input_shape is None:
            shape_of = space.input_shape
            archs = [layers(c, shape_of(c), num_classes) for c in configs]
        else:
            archs = [layers(c, input_shape, num_classes) for c in configs]
        return self.predict_with_upper(archs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description: the choice, the additive coefficients, the conformal quantile."""
        return {"precision": self.precision, "choice": self.choice,
                "candidates": {n: asdict(CANDIDATES[n]) for n in choice_parts(self.choice)},
                "log_upper_q": self.log_upper_q, "coverage": self.coverage, "random_state": self.random_state,
                "n_train": self.n_train, "cv_scores": self.cv_scores,
                "additive": [additive.to_dict() for additive, _ in self.parts]}


def _fold_prediction(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, choice: str,
                     random_state: int) -> np.ndarray:
    """``choice`` (one candidate, or the geometric mean of a blend's two) fitted on one fold's rest."""
    with threadpool_limits(1):  # also in a worker process: see one_thread
        parts = [_fit_candidate(X_train, y_train, CANDIDATES[name], random_state)
                 for name in choice_parts(choice)]
        return _predict_parts(parts, X_test)


def _cost(choice: str) -> int:
    """A rough rank of a choice's fitting cost, so the dearest fits start first."""
    return sum(3 if CANDIDATES[n].correction == "gp" else 2 if CANDIDATES[n].correction else 1
               for n in choice_parts(choice))


def _out_of_fold(X: np.ndarray, y: np.ndarray, choices: Sequence[str], n_splits: int, random_state: int,
                 jobs: int = 1) -> dict[str, np.ndarray]:
    """Each row predicted by each choice fitted on the folds it is not in. The (choice, fold) fits run in
    ``jobs`` processes; each fit is seeded, so the predictions do not depend on ``jobs``."""
    folds = list(KFold(n_splits=n_splits, shuffle=True, random_state=random_state).split(X))
    tasks = sorted(((c, i) for c in choices for i in range(len(folds))), key=lambda t: -_cost(t[0]))
    calls = [(X[folds[i][0]], y[folds[i][0]], X[folds[i][1]], c, random_state) for c, i in tasks]
    if jobs > 1 and len(tasks) > 1:
        results = Parallel(n_jobs=min(jobs, len(tasks)), backend="loky")(
            delayed(_fold_prediction)(*call) for call in calls)
    else:
        results = [_fold_prediction(*call) for call in calls]
    out = {c: np.empty_like(y) for c in choices}
    for (c, i), pred in zip(tasks, results):
        out[c][folds[i][1]] = pred
    return out


def _cross_validate(X: np.ndarray, y: np.ndarray, names: Sequence[str], n_splits: int, random_state: int,
                    jobs: int = 1) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    oof = _out_of_fold(X, y, names, n_splits, random_state, jobs)
    return {name: log_ratio_metrics(pred, y) for name, pred in oof.items()}, oof


@one_thread
def fit_predictor(archs: Sequence[Sequence[LayerSpec]] | np.ndarray, latency_ms: Sequence[float],
                  precision: str = "fp32", coverage: float = 0.9, random_state: int = 0,
                  candidates: Sequence[str] | None = None, n_splits: int = 5,
                  calibration_folds: int = CALIBRATION_FOLDS, jobs: int | None = None) -> LatencyPredictor:
    """Fit a :class:`LatencyPredictor`, choosing among ``candidates`` by K-fold CV.

    The folds are fitted in ``jobs`` processes (default :func:`fit_jobs`); the result does not depend on it.

    The choice maximises the CV share within ±10% (MAPE breaks ties); the upper
    bound's quantile comes from the chosen model's out-of-fold residuals over
    ``calibration_folds`` folds (at most one row per fold; the CV's own when not more, or from
    ``CV_CALIBRATES_FROM_ROWS`` rows on).
    """
    _check_precision(precision)
    X = _as_features(archs, precision)
    y = check_latencies(latency_ms, len(X))
    if not np.isfinite(X).all():
        raise PredictorError("features contain non-finite values")
    if len(y) < _MIN_ROWS:
        raise PredictorError(f"need at least {_MIN_ROWS} measurements to fit a predictor, got {len(y)}")
    names = list(candidates) if candidates is not None else [
        n for n in CANDIDATES if CANDIDATES[n].correction != "gp" or len(y) <= GP_MAX_ROWS]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown or not names:
        raise PredictorError(f"unknown candidate(s) {unknown}; valid: {', '.join(CANDIDATES)}")
    jobs = fit_jobs(len(y)) if jobs is None else jobs
    scores, oof = _cross_validate(X, y, names, min(n_splits, len(y)), random_state, jobs)
    rank = lambda n: (round(scores[n]["within10"], 6), -scores[n]["mape"])  # noqa: E731
    best = sorted(names, key=rank, reverse=True)
    choice = best[0]
    if len(best) > 1 and blendable(*best[:2]):  # no fit: the two best's out-of-fold predictions are at hand
        blend = BLEND.join(best[:2])
        oof[blend] = np.sqrt(oof[best[0]] * oof[best[1]])
        scores[blend] = log_ratio_metrics(oof[blend], y)
        choice = max((choice, blend), key=rank)
    # the upper bound's quantile: residuals of models fitted on (k-1)/k of the rows overstate the error of
    # the one fitted on all of them, the more so the fewer the folds (5 folds covered more than they stated;
    # benchmarks/results/predictor_accuracy.json holds the coverage of the bound on every device)
    if min(calibration_folds, len(y)) > n_splits and len(y) < CV_CALIBRATES_FROM_ROWS:
        oof[choice] = _out_of_fold(X, y, [choice], min(calibration_folds, len(y)), random_state, jobs)[choice]
    q = conformal_quantile(np.log(y) - np.log(oof[choice]), coverage)
    log.info("predictor: chose %s (CV within10 %.3f, MAPE %.3f) on %d rows", choice,
             scores[choice]["within10"], scores[choice]["mape"], len(y))
    return refit_predictor(X, y, precision, choice, q, coverage, random_state, scores)


@one_thread
def refit_predictor(archs: Sequence[Sequence[LayerSpec]] | np.ndarray, latency_ms: Sequence[float],
                    precision: str, choice: str, log_upper_q: float, coverage: float, random_state: int = 0,
                    cv_scores: dict[str, dict[str, float]] | None = None) -> LatencyPredictor:
    """Fit the chosen candidate on all rows (no CV): deterministic, used to rebuild a cached predictor."""
    names = choice_parts(choice)
    X = _as_features(archs, _check_precision(precision))
    y = check_latencies(latency_ms, len(X))
    parts = [_fit_candidate(X, y, CANDIDATES[name], random_state) for name in names]
    return LatencyPredictor(precision, parts, choice, float(log_upper_q), coverage,
                            dict(cv_scores or {}), random_state, len(y), X.shape[1])
