#!/usr/bin/env python3
"""Time ONNX models with one protocol, here or on a remote device.

This file is self-contained on purpose: it needs only python3, numpy and
onnxruntime, so ``profile kit`` copies it next to the models and a Jetson, a
phone or a Raspberry Pi can run it. The local profiler imports the same
functions, so both follow one protocol:

- ``warmup_runs`` untimed runs;
- timed runs until both ``min_runs`` and ``min_duration_s`` are reached (as
  MLPerf's single-stream scenario does), capped at ``max_runs``;
- statistics: mean, p50, p90, p99, std of the per-run latency in ms.

Kit use: ``python3 run_kit.py [--provider cpu|cuda|tensorrt] [--threads T]``
in the kit folder reads ``manifest.json`` and appends to ``results.csv``;
re-running skips the models already measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

log = logging.getLogger("run_kit")
PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
RESULT_COLUMNS = ("model", "latency_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "std_ms", "runs",
                  "model_bytes", "peak_memory_bytes")


@dataclass(frozen=True)
class Protocol:
    warmup_runs: int = 10
    min_runs: int = 50
    min_duration_s: float = 0.5
    max_runs: int = 10_000

    def __post_init__(self) -> None:
        if self.warmup_runs < 0 or self.min_runs < 1 or self.min_duration_s < 0 or self.max_runs < self.min_runs:
            raise ValueError(f"invalid protocol {self}")


def latency_stats(times_ms: list[float]) -> dict:
    arr = np.asarray(times_ms, dtype=np.float64)
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"latency_ms": float(p50), "mean_ms": float(arr.mean()), "p50_ms": float(p50),
            "p90_ms": float(p90), "p99_ms": float(p99), "std_ms": float(arr.std()), "runs": int(arr.size)}


def time_callable(run, protocol: Protocol) -> dict:
    """Apply the protocol to a zero-argument callable; returns the statistics."""
    for _ in range(protocol.warmup_runs):
        run()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < protocol.max_runs:
        t0 = time.perf_counter()
        run()
        t1 = time.perf_counter()
        times.append((t1 - t0) * 1e3)
        if len(times) >= protocol.min_runs and t1 - start >= protocol.min_duration_s:
            break
    return latency_stats(times)


def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak resident memory added while the block runs (Linux; None elsewhere).

    Resets the kernel's high-water mark (``/proc/self/clear_refs``) on entry,
    so each model is charged only for what its session and runs allocate.
    """

    def __enter__(self) -> PeakMemory:
        self.bytes: int | None = None
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self._base = _proc_status_kib("VmRSS:")
        except OSError:
            self._base = None
        return self

    def __exit__(self, *exc) -> None:
        peak = _proc_status_kib("VmHWM:")
        if self._base is not None and peak is not None:
            self.bytes = max(0, peak - self._base) * 1024


def make_session(path: str, provider: str = "cpu", threads: int | None = 1):
    import onnxruntime as ort

    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; valid: {', '.join(PROVIDERS)}")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    available = set(ort.get_available_providers())
    providers = [p for p in PROVIDERS[provider] if p in available]
    if PROVIDERS[provider][0] not in available:
        raise RuntimeError(f"{PROVIDERS[provider][0]} is not available here; available: {sorted(available)}")
    return ort.InferenceSession(path, sess_options=options, providers=providers)


def time_onnx(path: str, input_shape: tuple[int, ...], protocol: Protocol, provider: str = "cpu",
              threads: int | None = 1, seed: int = 0) -> dict:
    """Time one ONNX model on random input of ``input_shape`` (batch included)."""
    feed_data = np.random.default_rng(seed).standard_normal(input_shape).astype(np.float32)
    with PeakMemory() as memory:
        session = make_session(path, provider, threads)
        feed = {session.get_inputs()[0].name: feed_data}
        stats = time_callable(lambda: session.run(None, feed), protocol)
    stats["model_bytes"] = os.path.getsize(path)
    stats["peak_memory_bytes"] = memory.bytes
    return stats


def _measured(results_path: str) -> set[str]:
    if not os.path.exists(results_path):
        return set()
    with open(results_path, newline="") as fh:
        return {row["model"] for row in csv.DictReader(fh) if row.get("latency_ms")}


def run_kit(folder: str, provider: str, threads: int | None) -> int:
    with open(os.path.join(folder, "manifest.json")) as fh:
        manifest = json.load(fh)
    protocol = Protocol(**manifest["protocol"])
    results_path = os.path.join(folder, "results.csv")
    done = _measured(results_path)
    todo = [m for m in manifest["models"] if m["file"] not in done]
    new_file = not os.path.exists(results_path) or os.path.getsize(results_path) == 0
    with open(results_path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        if new_file:
            writer.writeheader()
        for i, model in enumerate(todo, 1):
            stats = time_onnx(os.path.join(folder, model["file"]), tuple(model["input_shape"]), protocol,
                              provider, threads)
            stats["model"] = model["file"]
            writer.writerow(stats)
            fh.flush()
            os.fsync(fh.fileno())
            log.info("[%d/%d] %s: p50 %.3f ms", i, len(todo), model["file"], stats["p50_ms"])
    env = {"platform": platform.platform(), "machine": platform.machine(), "cores": os.cpu_count(),
           "provider": provider, "threads": threads, "protocol": asdict(protocol)}
    try:
        import onnxruntime as ort

        env["runtime_version"] = ort.__version__
    except ImportError:
        pass
    with open(os.path.join(folder, "environment.json"), "w") as fh:
        json.dump(env, fh, indent=2)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the ONNX models of a profiling kit.")
    parser.add_argument("folder", nargs="?", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: runtime's choice)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    return run_kit(args.folder, args.provider, args.threads)


if __name__ == "__main__":
    sys.exit(main())
