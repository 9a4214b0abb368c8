"""Claim: on the local mobile_cnn profile (200 measured, 150 train / 50 held out) >= 90% of held-out
architectures are predicted within ±10%, at least 3x the FLOPs-linear baseline's share (same split,
same run). The profile is the one ``python -m benchmarks.profile_local`` measured and kept.

Run: ``python -m benchmarks.predictor_local``.
"""

from __future__ import annotations

import argparse

from hwprofiles.profile import load_profile
from predictors import evaluate, rows_to_data
from spaces import create_space

from .common import RESULTS, write_result

PROFILE = RESULTS / "profile_local_mobile_cnn"


def _mean(runs: list[dict], key: str, metric: str) -> float:
    return sum(r[key][metric] for r in runs) / len(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-size", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=5, help="random splits to average over")
    args = parser.parse_args()
    profile = load_profile(PROFILE)
    space = create_space("mobile_cnn")
    out = {}
    for precision in ("fp32", "int8"):
        data = rows_to_data(profile.select(space="mobile_cnn", precision=precision), space, precision)
        runs = [evaluate(data.X, data.latency_ms, args.train_size, seed, 0.9, precision)
                for seed in range(args.seeds)]
        row = {"n_train": runs[0]["n_train"], "n_test": runs[0]["n_test"], "splits": args.seeds,
               "choices": sorted({r["model_choice"] for r in runs})}
        for key in ("predictor", "flops_baseline"):
            row[key] = {m: round(_mean(runs, key, m), 4)
                        for m in ("within5", "within10", "mape", "spearman", "kendall")}
        row["predictor"]["upper_coverage"] = round(_mean(runs, "predictor", "upper_coverage"), 4)
        base = row["flops_baseline"]["within10"]
        row["ratio_within10_vs_flops"] = round(row["predictor"]["within10"] / base, 2) if base else None
        row["meets_goal"] = row["predictor"]["within10"] >= 0.90 and (base == 0
                                                                      or row["ratio_within10_vs_flops"] >= 3)
        out[precision] = row
        print(precision, row)
    payload = {"profile": str(PROFILE.relative_to(RESULTS.parent.parent)),
               "noise_floor_pct": profile.device.noise_floor_pct,
               "coverage_stated": 0.9, "goal": {"within10": 0.90, "ratio_vs_flops": 3}, "results": out}
    print("wrote", write_result("predictor_local", payload))


if __name__ == "__main__":
    main()
