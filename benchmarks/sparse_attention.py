"""Claim: local-window attention (with or without global tokens) does less work than dense
attention and runs faster where token counts are large.

For 1,024 tokens (128 px, patch 4) and 4,096 tokens (256 px, patch 4) it compares
dense, local and local+global attention of the sparse_vit space: analytic FLOPs
from ``layers()``, the median eager time on one CPU thread of the attention
module alone and of the whole model, and the ONNX Runtime time of the whole
model, each with its ratio to dense measured in the same run.
Run: ``python -m benchmarks.sparse_attention``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spaces import create_space, total_flops
from spaces.export import export_onnx
from spaces.sparse_vit import SparseVitConfig

from .common import pin_to_one_core, write_result

MODEL = dict(depth=4, dim=128, heads=4, mlp_ratio=3, patch=4)
VARIANTS = {
    "dense": dict(attention="dense"),
    "local_w4": dict(attention="local", window=4),
    "local_w8": dict(attention="local", window=8),
    "global_w4_g4": dict(attention="global", window=4, global_tokens=4),
}


def median_ms(fn, repeats: int, *args, warmup: int = 2) -> float:
    """Median wall time of ``fn(*args)`` in milliseconds, after ``warmup`` calls."""
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def ort_ms(model, shape, repeats: int) -> float:
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, shape, Path(tmp) / "model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, *shape), dtype=np.float32)
    name = session.get_inputs()[0].name
    return median_ms(session.run, repeats, None, {name: x})


def measure(space, resolution: int, repeats: int, with_ort: bool) -> dict:
    rows = {}
    for label, variant in VARIANTS.items():
        config = SparseVitConfig(**MODEL, **variant, resolution=resolution)
        specs = space.layers(config)
        torch.manual_seed(0)
        model = space.build(config).eval()
        shape = space.input_shape(config)
        x = torch.randn(1, *shape)
        tokens = torch.randn(1, config.num_patches + config.global_tokens, config.dim)
        attn = model.blocks[0].attn
        _norm, qkv, core, proj = specs[1:5]  # first block: norm, qkv linear, attention core, proj
        with torch.inference_mode():
            row = {
                "arch": config.arch_str,
                "tokens": config.num_patches + config.global_tokens,
                "attn_core_flops": core.flops,
                "attn_module_flops": qkv.flops + core.flops + proj.flops,
                "model_flops": total_flops(specs),
                "attn_ms": median_ms(attn, repeats, tokens),
                "model_ms": median_ms(model, repeats, x),
            }
        if with_ort:
            row["ort_model_ms"] = ort_ms(model, shape, repeats)
        rows[label] = row
        print(f"  {label:14s} {row}", flush=True)
    dense = rows["dense"]
    for row in rows.values():
        for key in ("attn_core_flops", "attn_module_flops", "model_flops", "attn_ms", "model_ms",
                    "ort_model_ms"):
            if key in row:
                row[f"{key}_vs_dense"] = round(row[key] / dense[key], 4)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-ort", action="store_true", help="skip the ONNX Runtime timings")
    args = parser.parse_args(argv)

    pin_to_one_core()
    torch.set_num_threads(1)
    space = create_space("sparse_vit")
    start = time.perf_counter()
    results = {}
    for resolution in args.resolutions:
        print(f"resolution {resolution}:", flush=True)
        results[f"r{resolution}"] = measure(space, resolution, args.repeats, not args.no_ort)
    path = write_result("sparse_attention", {
        "torch": torch.__version__,
        "threads": 1,
        "setup": {"model": MODEL, "batch": 1, "repeats": args.repeats, "statistic": "median",
                  "attn_ms": "first block's attention module alone (qkv, core, proj) = attn_module_flops",
                  "attn_core_flops": "softmax(QK^T)V only"},
        "results": results,
        "wall_s": round(time.perf_counter() - start, 1),
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
