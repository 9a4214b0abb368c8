"""A deterministic timing backend for tests that need latencies but not this host's (see
hwprofiles.timing)."""

from __future__ import annotations

import os

from hwprofiles.onnx_timing import Protocol


class FakeTiming:
    """Latency grows with the model file's size and the input's pixels, and is the same every time it is
    asked: what a test needs of a device, without the load of the host it runs on.

    ``ms = base_ms + ms_per_unit * (file MB) * (pixels / 1024) * batch``: a 64 px model takes 16 times what
    the same model takes at 16 px beyond the fixed cost, a wider model more than a narrow one.
    """

    name = "fake"

    def __init__(self, base_ms: float = 0.02, ms_per_unit: float = 0.5):
        self.base_ms, self.ms_per_unit = base_ms, ms_per_unit
        self.calls: list[list[str]] = []

    def latency_ms(self, path: str, shape: tuple[int, ...]) -> float:
        batch, _, h, w = shape
        return self.base_ms + self.ms_per_unit * os.path.getsize(path) / 1e6 * (h * w / 1024) * batch

    def time_models(self, models, protocol: Protocol, threads: int | None = 1) -> list[dict]:
        self.calls.append([path for path, _ in models])
        out = []
        for path, shape in models:
            p50 = self.latency_ms(path, shape)
            out.append({"latency_ms": p50, "mean_ms": p50 * 1.02, "p50_ms": p50, "p90_ms": p50 * 1.05,
                        "p99_ms": p50 * 1.1, "std_ms": p50 * 0.01, "runs": protocol.min_runs,
                        "model_bytes": os.path.getsize(path), "peak_memory_bytes": None})
        return out
