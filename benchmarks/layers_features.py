"""Claim: layers() + feature extraction for 10,000 sampled configs takes <= 2 s on one core.

Baseline in the same run: building the torch model and counting its FLOPs with
``torch.utils.flop_counter`` (what a tool without an analytic cost model does),
per config, on a small subset. Run: ``python -m benchmarks.layers_features``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from predictors import layer_features
from spaces import create_space, list_spaces

from .common import RandomTrial, pin_to_one_core, write_result

GOAL_S = 2.0


def _time_layers_features(space, configs) -> float:
    start = time.perf_counter()
    for config in configs:
        layer_features(space.layers(config))
    return time.perf_counter() - start


def _time_build_and_count(space, configs) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    start = time.perf_counter()
    for config in configs:
        shape = space.input_shape(config)
        model = space.build(config).eval()
        with torch.no_grad(), FlopCounterMode(display=False):
            model(torch.zeros(1, *shape))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--baseline-count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pin_to_one_core()
    import torch

    torch.set_num_threads(1)
    rows = []
    for name in list_spaces():
        space = create_space(name)
        rng = np.random.default_rng(args.seed)
        configs = [space.sample(RandomTrial(rng)) for _ in range(args.count)]
        cold_s = _time_layers_features(space, configs)  # block caches fill during this pass
        warm_s = _time_layers_features(space, configs)
        base_s = _time_build_and_count(space, configs[: args.baseline_count])
        per_cfg_us = cold_s / args.count * 1e6
        base_per_cfg_us = base_s / args.baseline_count * 1e6
        rows.append({
            "space": name, "configs": args.count, "seconds": round(cold_s, 3),
            "seconds_warm_cache": round(warm_s, 3), "us_per_config": round(per_cfg_us, 1),
            "configs_per_s": round(args.count / cold_s), "meets_goal": cold_s <= GOAL_S,
            "baseline_build_and_count_us_per_config": round(base_per_cfg_us),
            "speedup_vs_baseline": round(base_per_cfg_us / per_cfg_us),
        })
        print(f"{name:<11} {cold_s:6.3f} s for {args.count} configs ({per_cfg_us:6.1f} us each, "
              f"warm {warm_s:.3f} s); build+count {base_per_cfg_us / 1e3:7.1f} ms each "
              f"-> {base_per_cfg_us / per_cfg_us:,.0f}x")
    path = write_result("layers_features", {"goal_seconds": GOAL_S, "one_core": True, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
