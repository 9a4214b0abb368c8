#!/usr/bin/env python3
"""Time ONNX models with one protocol, here or on a remote device.

This file is self-contained on purpose: it needs only python3, numpy and
onnxruntime, so ``profile kit`` copies it next to the models and a Jetson, a
phone or a Raspberry Pi can run it. The local profiler imports the same
functions, so both follow one protocol:

- ``warmup_runs`` untimed runs;
- timed runs until both ``min_runs`` and ``min_duration_s`` are reached (as
  MLPerf's single-stream scenario does), capped at ``max_runs``, split into
  ``rounds``; when several models are timed together the rounds are
  interleaved (round 1 of every model, then round 2, ...);
- statistics: p50 is the lowest of the rounds' medians; mean, p90, p99 and std
  are over all timed runs, in ms.

Why rounds: on a shared host a neighbour's burst slows every run for a second
or two. One 0.5 s median of a model that falls in such a burst is off by
tens of percent on a 2-core VM; the quietest of five interleaved rounds of
0.1 s each is reproducible to a few percent at the same total timing cost.

Kit use: ``python3 run_kit.py [--provider cpu|cuda|tensorrt] [--threads T]``
in the kit folder reads ``manifest.json`` and appends to ``results.csv``;
re-running skips the models already measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
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
#: models timed together (rounds interleaved, sessions open at once); results are saved after each chunk
CHUNK = 8
RESULT_COLUMNS = ("model", "latency_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "std_ms", "runs",
                  "model_bytes", "peak_memory_bytes")


@dataclass(frozen=True)
class Protocol:
    warmup_runs: int = 10
    min_runs: int = 50
    min_duration_s: float = 0.5
    max_runs: int = 10_000
    rounds: int = 5

    def __post_init__(self) -> None:
        if (self.warmup_runs < 0 or self.min_runs < 1 or self.min_duration_s < 0
                or self.max_runs < self.min_runs or self.rounds < 1):
            raise ValueError(f"invalid protocol {self}")

    @classmethod
    def from_dict(cls, timing: dict | None) -> Protocol:
        """A stored protocol; one without ``rounds`` was measured before rounds existed, i.e. in one round.
        No stored protocol (``None``, or a profile imported from elsewhere) gives the current default."""
        if not isinstance(timing, dict):
            return cls()
        return cls(**{"rounds": 1, **timing})

    def round_share(self, first: bool) -> tuple[int, int, float, int]:
        """(warmup, min_runs, min_duration_s, max_runs) of one round."""
        warmup = self.warmup_runs if first else min(2, self.warmup_runs)
        return (warmup, math.ceil(self.min_runs / self.rounds), self.min_duration_s / self.rounds,
                math.ceil(self.max_runs / self.rounds))


def latency_stats(rounds_ms: list[list[float]]) -> dict:
    """Statistics of timed runs grouped by round: p50 is the lowest round median, the rest are pooled."""
    arr = np.concatenate([np.asarray(r, dtype=np.float64) for r in rounds_ms])
    p50 = min(float(np.median(r)) for r in rounds_ms)
    p90, p99 = np.percentile(arr, [90, 99])
    return {"latency_ms": p50, "mean_ms": float(arr.mean()), "p50_ms": p50, "p90_ms": float(p90),
            "p99_ms": float(p99), "std_ms": float(arr.std()), "runs": int(arr.size), "rounds": len(rounds_ms)}


def _timed_round(run, protocol: Protocol, first: bool) -> list[float]:
    warmup, min_runs, min_duration_s, max_runs = protocol.round_share(first)
    for _ in range(warmup):
        run()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_runs:
        t0 = time.perf_counter()
        run()
        t1 = time.perf_counter()
        times.append((t1 - t0) * 1e3)
        if len(times) >= min_runs and t1 - start >= min_duration_s:
            break
    return times


def time_callable(run, protocol: Protocol) -> dict:
    """Apply the protocol to a zero-argument callable (its rounds one after the other); the statistics."""
    return time_callables([run], protocol)[0]


def time_callables(runs: list, protocol: Protocol) -> list[dict]:
    """Apply the protocol to several zero-argument callables, their rounds interleaved; statistics of each."""
    rounds: list[list[list[float]]] = [[] for _ in runs]
    for r in range(protocol.rounds):
        for run, done in zip(runs, rounds):
            done.append(_timed_round(run, protocol, first=r == 0))
    return [latency_stats(done) for done in rounds]


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


def random_feed(session, shape: tuple[int, ...], seed: int = 0) -> dict:
    """A random input for ``session``: pixels for a model that takes uint8, else standard normal floats."""
    first = session.get_inputs()[0]
    rng = np.random.default_rng(seed)
    if first.type == "tensor(uint8)":
        return {first.name: rng.integers(0, 256, shape, dtype=np.uint8)}
    return {first.name: rng.standard_normal(shape).astype(np.float32)}


def time_interleaved(models: list[tuple[str, tuple[int, ...]]], protocol: Protocol, provider: str = "cpu",
                     threads: int | None = 1, seed: int = 0) -> list[dict]:
    """Time several ONNX models ``(path, input_shape with batch)`` on random input, their rounds interleaved.

    All sessions stay open until the last round. Peak memory is each session's creation and first run.
    """
    runs, extra = [], []
    for path, shape in models:
        with PeakMemory() as memory:
            session = make_session(path, provider, threads)
            feed = random_feed(session, shape, seed)
            session.run(None, feed)
        runs.append((lambda s, f: lambda: s.run(None, f))(session, feed))
        extra.append({"model_bytes": os.path.getsize(path), "peak_memory_bytes": memory.bytes})
    return [{**stats, **e} for stats, e in zip(time_callables(runs, protocol), extra)]


def time_onnx(path: str, input_shape: tuple[int, ...], protocol: Protocol, provider: str = "cpu",
              threads: int | None = 1, seed: int = 0) -> dict:
    """Time one ONNX model on random input of ``input_shape`` (batch included)."""
    return time_interleaved([(path, input_shape)], protocol, provider, threads, seed)[0]


def _measured(results_path: str) -> set[str]:
    if not os.path.exists(results_path):
        return set()
    with open(results_path, newline="") as fh:
        return {row["model"] for row in csv.DictReader(fh) if row.get("latency_ms")}


def run_kit(folder: str, provider: str, threads: int | None) -> int:
    with open(os.path.join(folder, "manifest.json")) as fh:
        manifest = json.load(fh)
    protocol = Protocol.from_dict(manifest["protocol"])
    results_path = os.path.join(folder, "results.csv")
    done = _measured(results_path)
    todo = [m for m in manifest["models"] if m["file"] not in done]
    new_file = not os.path.exists(results_path) or os.path.getsize(results_path) == 0
    with open(results_path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        if new_file:
            writer.writeheader()
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start:start + CHUNK]
            timed = time_interleaved([(os.path.join(folder, m["file"]), tuple(m["input_shape"]))
                                      for m in chunk],
                                     protocol, provider, threads)
            for i, (model, stats) in enumerate(zip(chunk, timed), start + 1):
                stats["model"] = model["file"]
                writer.writerow(stats)
                log.info("[%d/%d] %s: p50 %.3f ms", i, len(todo), model["file"], stats["p50_ms"])
            fh.flush()
            os.fsync(fh.fileno())
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
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads (default: runtime's choice)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    return run_kit(args.folder, args.provider, args.threads)


if __name__ == "__main__":
    sys.exit(main())
