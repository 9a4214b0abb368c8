"""The timing backend: what times a list of ONNX models with the project's protocol.

Profiling, candidate timing and finalize all time through ``timing_backend()``.
The default is ONNX Runtime on this host (``hwprofiles.onnx_timing``, the same code
the kit runs on a device). Tests swap in a deterministic backend with
``use_timing_backend``, so a test that needs latencies does not depend on how
loaded the host is; real timing keeps its own tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol as Interface

from .onnx_timing import Protocol, time_interleaved

__all__ = ["TimingBackend", "OnnxRuntimeTiming", "timing_backend", "use_timing_backend"]

Model = tuple[str, tuple[int, ...]]  # (ONNX file, input shape with the batch first)


class TimingBackend(Interface):
    """Times ``models`` together with ``protocol``; one statistics dict per model, as
    ``hwprofiles.onnx_timing.latency_stats`` makes them (latency_ms, p50_ms, p90_ms, p99_ms, mean_ms, std_ms,
    runs, model_bytes, peak_memory_bytes)."""

    name: str

    def time_models(self, models: list[Model], protocol: Protocol, threads: int | None = 1) -> list[dict]: ...


class OnnxRuntimeTiming:
    """ONNX Runtime's CPU provider on this host, rounds interleaved across the models."""

    name = "onnxruntime"

    def time_models(self, models: list[Model], protocol: Protocol, threads: int | None = 1) -> list[dict]:
        return time_interleaved(models, protocol, "cpu", threads)


_current: list[TimingBackend] = [OnnxRuntimeTiming()]


def timing_backend() -> TimingBackend:
    return _current[-1]


@contextlib.contextmanager
def use_timing_backend(backend: TimingBackend) -> Iterator[TimingBackend]:
    """Time with ``backend`` inside the ``with`` block (this process only)."""
    _current.append(backend)
    try:
        yield backend
    finally:
        _current.remove(backend)
