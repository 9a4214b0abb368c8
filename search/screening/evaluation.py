"""How well a profile's latency predictor predicts: held-out evaluation (``predictor eval``, ``devices``).

The glue between ``hwprofiles`` (measurements) and ``predictors`` (models): the
profile's CSV is the source of truth, fitted predictors are rebuilt from it
deterministically and cached by a hash of the data (``predictors.cache``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from hwprofiles.profile import Profile
from hwprofiles.store import cache_dir, open_profile
from predictors import (
    accuracy_metrics,
    data_hash,
    evaluate,
    fit_fewshot,
    fit_flops_baseline,
    plot_predicted_vs_measured,
    rows_to_data,
)
from predictors.data import default_num_classes
from search.errors import SearchError
from search.screening.fitting import fewshot_sources, profile_rows
from spaces import create_space

__all__ = ["evaluate_profile", "held_out_accuracy", "choose_space"]

log = logging.getLogger(__name__)
DEFAULT_TRAIN_CAP = 900  # the published-data goals use 900 training architectures


def choose_space(profile: Profile, space: str | None) -> str:
    if space is None:
        if len(profile.spaces) != 1:
            raise SearchError(f"profile {profile.name} covers {', '.join(profile.spaces) or 'no space'}; "
                           f"choose one with --space")
        return profile.spaces[0]
    if space not in profile.spaces:
        raise SearchError(f"profile {profile.name} has no measurements of space {space!r}; "
                       f"it covers {', '.join(profile.spaces) or 'nothing'}")
    return space


def _default_train_size(n: int) -> int:
    return max(5, min(DEFAULT_TRAIN_CAP, int(0.75 * n)))


def _fewshot(profile: Profile, space_name: str, precision: str, data, train: np.ndarray, test: np.ndarray,
             seed: int, coverage: float) -> dict[str, Any]:
    sources = fewshot_sources(profile.name, space_name, precision)  # as run fits them, whatever the split
    if not sources:
        raise SearchError(f"--prior auto needs other profiles of space {space_name}; none found")
    X, y = data.X, data.latency_ms
    model = fit_fewshot([p for _, p in sources], X[train], y[train], coverage, precision)
    p50, upper = model.predict_with_upper(X[test])
    flops = fit_flops_baseline(X[train], y[train], precision).predict(X[test])
    return {"n_train": int(len(train)), "n_test": int(len(test)), "coverage_stated": coverage,
            "model_choice": "few-shot ridge on " + ", ".join(n for n, _ in sources),
            "predictor": accuracy_metrics(p50, y[test], upper),
            "flops_baseline": accuracy_metrics(flops, y[test]),
            "predictions": {"measured_ms": y[test], "p50_ms": p50, "upper_ms": upper, "flops_ms": flops}}


def evaluate_profile(device: str, space: str | None = None, precision: str = "fp32",
                     train_size: int | None = None, prior: str | None = None, seed: int = 0,
                     coverage: float = 0.9, plot: str | Path | None = None) -> dict[str, Any]:
    """Fit on ``train_size`` architectures of the profile, report metrics on all the others.

    The scatter plot goes to ``plot`` (default ``runs/predictor-eval/DEVICE-SPACE-PRECISION.png``).
    """
    profile = open_profile(device)
    space_name = choose_space(profile, space)
    rows = profile_rows(profile, space_name, precision)
    data = rows_to_data(rows, create_space(space_name), precision, default_num_classes(space_name))
    n = len(data.latency_ms)
    train_size = _default_train_size(n) if train_size is None else train_size
    if not 5 <= train_size < n:
        raise SearchError(f"--train-size must be in 5..{n - 1} for {device}/{space_name} ({n} measurements), "
                       f"got {train_size}")
    if prior not in (None, "auto"):
        raise SearchError(f"--prior must be 'auto' (few-shot from the other profiles), got {prior!r}")
    if prior == "auto":
        order = np.random.default_rng(seed).permutation(n)
        result = _fewshot(profile, space_name, precision, data, order[:train_size], order[train_size:], seed,
                          coverage)
    else:
        result = evaluate(data.X, data.latency_ms, train_size, seed, coverage, precision,
                          return_predictions=True)
    predictions = result.pop("predictions")
    result.update(device=device, space=space_name, precision=precision, seed=seed, prior=prior,
                  noise_floor_pct=profile.device.noise_floor_pct)
    if plot is None:
        suffix = "-fewshot" if prior else ""
        plot = Path("runs") / "predictor-eval" / f"{device}-{space_name}-{precision}{suffix}.png"
    if plot:
        title = (f"{device} / {space_name} / {precision}: {result['n_train']} train, "
                 f"{result['n_test']} held out")
        result["plot"] = str(plot_predicted_vs_measured(predictions["measured_ms"], predictions["p50_ms"],
                                                        plot, title, predictions["upper_ms"],
                                                        predictions["flops_ms"]).resolve())
    return result


def held_out_accuracy(profile: Profile, space: str, precision: str = "fp32", seed: int = 0,
                      compute: bool = True) -> float | None:
    """Share of held-out architectures within ±10% (the default split), cached by a hash of the data.

    With ``compute=False`` only a cached value is returned (None when there is none).
    """
    rows = profile_rows(profile, space, precision)
    key = data_hash(rows, space, precision, default_num_classes(space), 0.9, seed)
    path = cache_dir() / "accuracy" / f"{profile.name}-{space}-{precision}-{key[:16]}.json"
    try:
        return float(json.loads(path.read_text())["within10"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if not compute:
        return None
    data = rows_to_data(rows, create_space(space), precision, default_num_classes(space))
    n = len(rows)
    if n < 10:
        raise SearchError(f"{profile.name}/{space}: {n} measurements are too few to hold some out")
    result = evaluate(data.X, data.latency_ms, _default_train_size(n), seed, 0.9, precision)
    within10 = result["predictor"]["within10"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"within10": within10, "n_train": result["n_train"],
                                "n_test": result["n_test"], "hash": key}) + "\n")
    return within10
