"""Batch scoring throughput, feature extraction included (python -m benchmarks.predictor_throughput).

Configs of mobile_cnn, fbnet and nb201 are drawn with ``RandomTrial``; a
predictor (fitted on synthetic latencies: throughput does not depend on the
data) scores them with ``predictor.score``, for every model a fit can choose
(each candidate and each allowed blend); the goal holds for the slowest. Beside
it: layers + features only, and the FLOPs-linear baseline on the same features.
One process, one core.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from benchmarks.common import RandomTrial, pin_to_one_core, write_result
from predictors import FEATURE_NAMES, arch_features, feature_matrix, fit_flops_baseline
from predictors.models import BLEND, CANDIDATES, blendable, refit_predictor
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


def every_choice() -> list[str]:
    """Every model a fit can choose: each candidate, and each blend of two that may be chosen."""
    return [*CANDIDATES,
            *(f"{a}{BLEND}{b}" for a, b in itertools.combinations(CANDIDATES, 2) if blendable(a, b))]


def run_space(name: str) -> dict:
    space = create_space(name)
    rng = np.random.default_rng(SEED)
    configs = [space.sample(RandomTrial(rng)) for _ in range(N_CONFIGS)]
    # fitted as the search uses it: named features plus the space's encoding
    X = arch_features(space, configs[:600])
    y = 1e-8 * X[:, list(X.std(axis=0) > 0).index(True)] + 1e-9 * X.sum(axis=1) + 0.5  # synthetic positive
    flops = fit_flops_baseline(X[:, :len(FEATURE_NAMES)], y)
    features_only = _best_of(lambda: arch_features(space, configs))
    per_choice = {}
    for choice in every_choice():
        predictor = refit_predictor(X, y, "fp32", choice, 0.1, 0.9)
        per_choice[choice] = N_CONFIGS / _best_of(lambda p=predictor: p.score(space, configs))
    flops_s = _best_of(lambda: flops.predict(feature_matrix([space.layers(c, space.input_shape(c))
                                                             for c in configs])))
    slowest = min(per_choice, key=per_choice.get)
    out = {"configs": N_CONFIGS, "score_configs_per_s": per_choice, "slowest_choice": slowest,
           "slowest_configs_per_s": per_choice[slowest],
           "layers_and_features_only_configs_per_s": N_CONFIGS / features_only,
           "flops_baseline_configs_per_s": N_CONFIGS / flops_s, "training_rows": len(y)}
    print(f"{name:10s} slowest {slowest} {per_choice[slowest]:9.0f}/s  fastest "
          f"{max(per_choice.values()):9.0f}/s  "
          f"features only {out['layers_and_features_only_configs_per_s']:9.0f}/s  "
          f"flops baseline {out['flops_baseline_configs_per_s']:9.0f}/s")
    return out


def main() -> None:
    pin_to_one_core()
    payload = {"settings": {"seed": SEED, "configs": N_CONFIGS, "one_core": True,
                            "goal_configs_per_s": 10_000},
               "spaces": {name: run_space(name) for name in SPACES}}
    print("wrote", write_result("predictor_throughput", payload))


if __name__ == "__main__":
    main()
