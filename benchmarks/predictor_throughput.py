"""Batch scoring throughput, feature extraction included (python -m benchmarks.predictor_throughput).

Configs of mobile_cnn, fbnet and nb201 are drawn with ``RandomTrial``; a
predictor (fitted on synthetic latencies: throughput does not depend on the
data) scores them with ``predictor.score``. Beside it: layers + features only,
and the FLOPs-linear baseline on the same features. One process, one core.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import RandomTrial, pin_to_one_core, write_result
from predictors import FEATURE_NAMES, arch_features, feature_matrix, fit_flops_baseline, fit_predictor
from spaces import create_space

SPACES = ("mobile_cnn", "fbnet", "nb201")
N_CONFIGS = 10_000
SEED = 0


def _best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_space(name: str) -> dict:
    space = create_space(name)
    rng = np.random.default_rng(SEED)
    configs = [space.sample(RandomTrial(rng)) for _ in range(N_CONFIGS)]
    # fitted as the search uses it: named features plus the space's encoding
    X = arch_features(space, configs[:600])
    y = 1e-8 * X[:, list(X.std(axis=0) > 0).index(True)] + 1e-9 * X.sum(axis=1) + 0.5  # synthetic positive
    predictor = fit_predictor(X, y, candidates=("additive+gbm_small",), n_splits=3)
    gp = fit_predictor(X, y, candidates=("additive+gp",), n_splits=3)  # its cost grows with the training rows
    flops = fit_flops_baseline(X[:, :len(FEATURE_NAMES)], y)
    features_only = _best_of(lambda: arch_features(space, configs))
    score = _best_of(lambda: predictor.score(space, configs))
    score_gp = _best_of(lambda: gp.score(space, configs))
    flops_s = _best_of(lambda: flops.predict(feature_matrix([space.layers(c, space.input_shape(c)) for c in configs])))
    out = {"configs": N_CONFIGS, "score_configs_per_s": N_CONFIGS / score,
           "layers_and_features_only_configs_per_s": N_CONFIGS / features_only,
           "flops_baseline_configs_per_s": N_CONFIGS / flops_s, "model": predictor.choice,
           "score_gp_configs_per_s": N_CONFIGS / score_gp, "gp_training_rows": len(y)}
    print(f"{name:10s} score {out['score_configs_per_s']:9.0f}/s  with GP {out['score_gp_configs_per_s']:9.0f}/s  "
          f"features only "
          f"{out['layers_and_features_only_configs_per_s']:9.0f}/s  flops baseline {out['flops_baseline_configs_per_s']:9.0f}/s")
    return out


def main() -> None:
    pin_to_one_core()
    payload = {"settings": {"seed": SEED, "configs": N_CONFIGS, "one_core": True, "goal_configs_per_s": 10_000},
               "spaces": {name: run_space(name) for name in SPACES}}
    print("wrote", write_result("predictor_throughput", payload))


if __name__ == "__main__":
    main()
