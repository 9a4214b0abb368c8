"""Every finalize pass measured on one searched model: distill, int8, pruned, low-rank, against its fp32 self.

    python -m benchmarks.compress_passes [--trials 6] [--epochs 4]

A short search on digits (``local`` device, profiled afresh in a temporary
folder, default ``mobile_cnn`` space) picks a model; ``finalize`` then builds
every variant with ``--compress distill,quantize,prune,lowrank`` and measures
each on this host with the profile's protocol. The table gives each variant's
test accuracy, p50 latency and file size as ratios to the fp32 model measured
in the same run, what finalize shipped, and why the others were not: the
point of the issue is that compression must be measured, not assumed.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from .common import write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SEARCH_PROFILES_DIR"] = str(Path(tmp) / "profiles")
        os.environ["SEARCH_CACHE_DIR"] = str(Path(tmp) / "cache")
        from search.finalize.pipeline import finalize_study
        from search.finalize.settings import FinalizeSettings
        from search.loop.driver import run_search
        from search.study.settings import RunSettings

        runs = str(Path(tmp) / "runs")
        start = time.perf_counter()
        run_search(RunSettings(trials=args.trials, epochs=args.epochs, workers=2, runs_dir=runs,
                               study="compress"))
        search_s = time.perf_counter() - start
        start = time.perf_counter()
        out = finalize_study(FinalizeSettings(study="compress", runs_dir=runs, top=1, epochs=args.epochs,
                                              compress=("distill", "quantize", "prune", "lowrank")))
        finalize_s = time.perf_counter() - start
        (entry,) = out["models"]
        card = json.loads((Path(out["final"]) / f"trial-{entry.trial:05d}" / "model_card.json").read_text())
    variants, base = card["variants"], card["variants"]["fp32"]
    rows = []
    for name, v in variants.items():
        rows.append({"variant": name, "test_accuracy": v["test_accuracy"], "p50_ms": v["p50_ms"],
                     "file_bytes": v["file_bytes"], "speedup_vs_fp32": base["p50_ms"] / v["p50_ms"],
                     "size_ratio_vs_fp32": base["file_bytes"] / v["file_bytes"],
                     "accuracy_points_vs_fp32": (v["test_accuracy"] - base["test_accuracy"]) * 100,
                     "params_kept": v.get("params_kept"), "shipped": name == card["shipped"],
                     "why_not": card["not_shipped"].get(name)})
        r = rows[-1]
        print(f"{name:10s} acc {r['test_accuracy'] * 100:6.2f}% ({r['accuracy_points_vs_fp32']:+.2f})  "
              f"p50 {r['p50_ms']:.4g} ms ({r['speedup_vs_fp32']:.2f}x)  size {r['size_ratio_vs_fp32']:.2f}x "
              f"smaller{'  SHIPPED' if r['shipped'] else ''}")
    write_result("compress_passes", {
        "trial": entry.trial,
        "arch_str": card["architecture"]["arch_str"] if "architecture" in card else None,
        "search_seconds": search_s, "finalize_seconds": finalize_s, "epochs": args.epochs,
        "shipped": card["shipped"], "notes": card["notes"], "variants": rows,
        "command": f"python -m benchmarks.compress_passes --trials {args.trials} --epochs {args.epochs}",
    })


if __name__ == "__main__":
    main()
