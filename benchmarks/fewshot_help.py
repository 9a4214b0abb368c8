"""A new device from a few measurements, on HELP's protocol (python -m benchmarks.fewshot_help).

Leave one published device out at a time. Its sources are the other seven profiles' predictors as
``run`` fits them (``search.screening.fitting.predictor_for_profile`` on the seeded 900-row subset, from
the shipped choices). K target measurements are drawn from architectures 0-899 and the transfer is
scored by Spearman on architectures 900-1899 (NAS-Bench-201; FBNet 4000-4999), both sets without the
target's fastest and slowest 10%, as HELP (Lee et al., NeurIPS 2021) does; SHOT_DRAWS draws of the K
architectures, averaged. HELP's published figures stand beside the devices both report.

``--threshold`` measures what sets ``FEWSHOT_BELOW_ROWS``: at K = 20, 50, 100 and 200 of the target's
own rows (drawn from 0-899, untrimmed: a screen sees every architecture), the transfer against a
predictor of those rows alone, on architectures 900-1899 (FBNet 4000-4999) untrimmed: share within
±10%, Spearman, the upper bound's coverage and its width (the median of upper / measured, which sets how
much of a budget the screen gives away).
"""

from __future__ import annotations

import argparse
import csv
import time

import numpy as np
from scipy import stats

from benchmarks.common import SHARED, write_result
from benchmarks.predictor_accuracy import DEVICES
from hwprofiles.profile import load_profile
from hwprofiles.store import SHIPPED_DIR
from predictors import accuracy_metrics, fit_fewshot, fit_flops_baseline, fit_predictor, rows_to_data
from search.screening.fitting import SOURCE_ROWS_CAP, predictor_for_profile
from search.study.settings import FEWSHOT_BELOW_ROWS
from spaces import create_space

#: the index ranges of HELP's protocol: shots from the first, Spearman on the second
SHOT_RANGE = {"nb201": (0, 900), "fbnet": (0, 900)}
TEST_RANGE = {"nb201": (900, 1900), "fbnet": (4000, 5000)}
INDEX_FILE = {"nb201": ("nb201_latency.csv", "arch_index"), "fbnet": ("fbnet_latency.csv", "sample_id")}
#: Spearman HELP reports with 10 target measurements (its Table 2 and Table 4)
HELP_SPEARMAN = {"nb201": {"gold_6226": 0.989, "raspi4": 0.890}, "fbnet": {"raspi4": 0.887}}
K_SHOTS = (10, 20)
K_THRESHOLD = (20, 50, 100, 200)
SHOT_DRAWS, THRESHOLD_DRAWS = 10, 3
TRIM = 0.10


def _indices(space: str) -> dict[str, int]:
    """arch_str -> the published index (NAS-Bench-201's topology index, FBNet's sample id)."""
    name, column = INDEX_FILE[space]
    with open(SHARED / name, newline="") as fh:
        return {row["arch_str"]: int(row[column]) for row in csv.DictReader(fh)}


class Device:
    """One device's rows of a space: features, latency and published index of each."""

    def __init__(self, name: str, space: str, index_of: dict[str, int]):
        profile = load_profile(SHIPPED_DIR / name, check_arch=False)
        data = rows_to_data(profile.select(space=space, precision="fp32"), create_space(space), "fp32")
        self.name, self.X, self.y = name, data.X, data.latency_ms
        self.index = np.array([index_of[s] for s in data.arch_strs])

    def rows_in(self, bounds: tuple[int, int], trimmed: bool) -> np.ndarray:
        rows = np.flatnonzero((self.index >= bounds[0]) & (self.index < bounds[1]))
        if not trimmed:
            return rows
        lo, hi = np.quantile(self.y[rows], [TRIM, 1 - TRIM])
        return rows[(self.y[rows] >= lo) & (self.y[rows] <= hi)]


def _sources(space: str) -> dict[str, object]:
    return {d: predictor_for_profile(load_profile(SHIPPED_DIR / d, check_arch=False), space, "fp32",
                                     SOURCE_ROWS_CAP) for d in DEVICES}


def _left_out(space: str, devices: dict[str, Device], sources: dict[str, object], trimmed: bool):
    """Each device in turn: it, the other devices' predictors, its shot pool and its test rows."""
    for name, device in devices.items():
        others = [p for d, p in sources.items() if d != name]
        yield (name, device, others, device.rows_in(SHOT_RANGE[space], trimmed),
               device.rows_in(TEST_RANGE[space], trimmed))


def run_help(space: str, devices: dict[str, Device], sources: dict[str, object]) -> dict:
    out = {}
    for name, device, others, pool, test in _left_out(space, devices, sources, trimmed=True):
        row = {"shot_pool": int(len(pool)), "test": int(len(test))}
        for k in K_SHOTS:
            ours, flops = [], []
            for draw in range(SHOT_DRAWS):
                shots = np.random.default_rng(draw).choice(pool, k, replace=False)
                model = fit_fewshot(others, device.X[shots], device.y[shots])
                ours.append(stats.spearmanr(model.predict(device.X[test]), device.y[test]).statistic)
                baseline = fit_flops_baseline(device.X[shots], device.y[shots])
                flops.append(stats.spearmanr(baseline.predict(device.X[test]), device.y[test]).statistic)
            row[f"k{k}"] = {"spearman": float(np.mean(ours)), "spearman_worst_draw": float(np.min(ours)),
                            "flops_linear_spearman": float(np.mean(flops))}
        row["help_k10"] = HELP_SPEARMAN[space].get(name)
        out[name] = row
        print(f"{space} {name:13s} " + "  ".join(f"K={k} {row[f'k{k}']['spearman']:.3f}" for k in K_SHOTS)
              + (f"  HELP K=10 {row['help_k10']:.3f}" if row["help_k10"] else ""), flush=True)
    out["mean"] = {f"k{k}": float(np.mean([out[d][f"k{k}"]["spearman"] for d in devices])) for k in K_SHOTS}
    return out


def _bound_metrics(p50: np.ndarray, upper: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    m = accuracy_metrics(p50, measured, upper)
    return {"within10": m["within10"], "spearman": m["spearman"], "upper_coverage": m["upper_coverage"],
            "upper_over_measured": float(np.median(upper / measured))}


def _mean(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


def run_threshold(space: str, devices: dict[str, Device], sources: dict[str, object]) -> dict:
    out = {}
    for name, device, others, pool, test in _left_out(space, devices, sources, trimmed=False):
        by_k = {}
        for k in K_THRESHOLD:
            fewshot, own = [], []
            for draw in range(THRESHOLD_DRAWS):
                shots = np.random.default_rng(100 + draw).choice(pool, k, replace=False)
                X, y = device.X[shots], device.y[shots]
                fewshot.append(_bound_metrics(*fit_fewshot(others, X, y).predict_with_upper(device.X[test]),
                                              device.y[test]))
                own.append(_bound_metrics(*fit_predictor(X, y).predict_with_upper(device.X[test]),
                                          device.y[test]))
            by_k[str(k)] = {"fewshot": _mean(fewshot), "own_rows": _mean(own)}
            print(f"{space} {name:13s} K={k:3d} within10 few-shot {by_k[str(k)]['fewshot']['within10']:.3f} "
                  f"own {by_k[str(k)]['own_rows']['within10']:.3f}", flush=True)
        out[name] = by_k
    out["mean"] = {str(k): {kind: _mean([out[d][str(k)][kind] for d in devices])
                            for kind in ("fewshot", "own_rows")} for k in K_THRESHOLD}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", action="store_true",
                    help="also measure own rows against the transfer at K = 20, 50, 100, 200")
    args = ap.parse_args()
    payload = {"settings": {"k_shots": list(K_SHOTS), "shot_draws": SHOT_DRAWS, "trim": TRIM,
                            "shot_range": SHOT_RANGE, "test_range": TEST_RANGE,
                            "source_rows": SOURCE_ROWS_CAP, "fewshot_below_rows": FEWSHOT_BELOW_ROWS,
                            "help_spearman_k10": HELP_SPEARMAN},
               "goals": {"mean_spearman_k20": 0.95, "at_least_help_k10": True}}
    if args.threshold:
        payload["settings"].update(k_threshold=list(K_THRESHOLD), threshold_draws=THRESHOLD_DRAWS)
    for space in ("nb201", "fbnet"):
        index_of = _indices(space)
        devices = {d: Device(d, space, index_of) for d in DEVICES}
        t0 = time.perf_counter()
        sources = _sources(space)
        payload[f"{space}_sources_s"] = round(time.perf_counter() - t0, 1)
        payload[space] = run_help(space, devices, sources)
        if args.threshold:
            payload[f"{space}_threshold"] = run_threshold(space, devices, sources)
    print("wrote", write_result("fewshot_help", payload))


if __name__ == "__main__":
    main()
