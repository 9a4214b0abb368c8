"""Render docs/BENCHMARKS.md from benchmarks/results/*.json: ``python -m benchmarks.report``.

Each known benchmark has a renderer; the tables are made from the committed
results only, so the document cannot drift from the data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .common import RESULTS

DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _meta(r: dict) -> str:
    m = r["machine"]
    return f"_{r['date']} · {m['cpu']}, {m['cores']} cores · Python {m['python']}_"


def layers_features(r: dict) -> str:
    rows = [[x["space"], x["configs"], f"{x['seconds']:.3f}", f"{x['us_per_config']:.0f}",
             f"{x['baseline_build_and_count_us_per_config'] / 1e3:.1f}", f"{x['speedup_vs_baseline']:,}x",
             "yes" if x["meets_goal"] else "**no**"] for x in r["rows"]]
    return (f"Goal: `layers()` + feature extraction for 10,000 sampled configs in <= {r['goal_seconds']} s on one "
            "core (the process is pinned to one core). Baseline in the same run: build the torch model and count "
            "its FLOPs with `torch.utils.flop_counter`.\n\n"
            + _table(["space", "configs", "seconds", "us/config", "baseline ms/config", "speed-up", "goal met"],
                     rows))


def sparse_attention(r: dict) -> str:
    rows = []
    for variants in r["results"].values():
        for name, v in variants.items():
            rows.append([v["tokens"], name, f"{v['attn_core_flops_vs_dense']:.4f}",
                         f"{v['attn_ms']:.2f} ({v['attn_ms_vs_dense']:.3f})",
                         f"{v['model_flops_vs_dense']:.3f}", f"{v['model_ms']:.1f} ({v['model_ms_vs_dense']:.3f})",
                         f"{v['ort_model_ms']:.1f} ({v['ort_model_ms_vs_dense']:.3f})"])
    setup = r.get("setup", {}).get("model", {})
    return ("Claim: the sparse attention variants of `sparse_vit` really do less work (windowed computation, "
            f"not a mask). Model: {setup}, batch 1, one thread, median of {r.get('setup', {}).get('repeats')} "
            "runs; ratios to dense in the same run in brackets.\n\n"
            + _table(["tokens", "attention", "core FLOPs vs dense", "attention module ms", "model FLOPs vs dense",
                      "model torch ms", "model ONNX Runtime ms"], rows))


def profile_local(r: dict) -> str:
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in r["seconds_by_phase"].items())
    return (f"Goal: profile {r['architectures']} `mobile_cnn` architectures at 32x32, fp32 and int8, in <= "
            f"{r['goal_seconds']:.0f} s.\n\n"
            + _table(["measurements", "total s", "phases", "goal met", "noise floor (p90)",
                      "re-measured within floor", "reference model ms before/after", "int8 vs fp32 (median speed-up)"],
                     [[r["measurements"], r["seconds_total"], phases, "yes" if r["meets_goal"] else "**no**",
                       f"{r['noise_floor_pct_p90']}%", r["remeasured_within_noise_floor"],
                       " / ".join(map(str, r["reference_model_ms_before_after"])),
                       f"{r['int8_speedup_over_fp32']['median']}x "
                       f"({r['int8_speedup_over_fp32']['share_faster'] * 100:.0f}% of models faster in int8)"]]))


RENDERERS: dict[str, tuple[str, Callable[[dict], str]]] = {
    "layers_features": ("Analytic cost model speed", layers_features),
    "sparse_attention": ("Sparse attention does less work", sparse_attention),
    "profile_local": ("Profiling this machine", profile_local),
}


def render() -> str:
    parts = ["# Benchmarks", "",
             "Latest results of the scripts in `benchmarks/` (one per claim; `python -m benchmarks.NAME` writes "
             "`benchmarks/results/NAME.json`; `python -m benchmarks.report` rewrites this page). Every speed "
             "claim is measured beside a baseline in the same run, because these machines are shared and noisy.",
             ""]
    for name, (title, renderer) in RENDERERS.items():
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        parts += [f"## {title}", "", f"`python -m benchmarks.{name}` — {_meta(result)}", "", renderer(result), ""]
    others = sorted(p.stem for p in RESULTS.glob("*.json") if p.stem not in RENDERERS)
    if others:
        parts += ["## Other results", "", *[f"- `benchmarks/results/{n}.json`" for n in others], ""]
    return "\n".join(parts)


def main() -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(render())
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
