"""Deployable variants of a trained model: ONNX export, int8 quantization, and what each measures.

Every variant file takes raw uint8 pixels: its graph starts with the
standardisation training used (``search.training.standardise.PixelInput``), so
what is timed is what a service runs. Every figure here is measured: latency
with the device profile's protocol (``hwprofiles.onnx_timing``), throughput at a
larger batch, peak memory, file size, accuracy *through ONNX Runtime* (the model
that ships, not the torch one) on the split it is asked for, the share of
convolutions and matmuls the optimized int8 graph really runs in int8, and
energy per inference from the host's RAPL counters where they are readable
(otherwise an estimate, labelled as such).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwprofiles.onnx_timing import Protocol, make_session, random_feed
from hwprofiles.quantize import TRANSFORMER_OPS, quantize_int8
from hwprofiles.timing import timing_backend
from search.pixels import Normalization
from spaces.export import export_onnx

__all__ = ["VariantFiles", "export_variant", "quantize_variant", "int8_op_share", "onnx_accuracy",
           "measure_variants", "calibration_batches", "ASSUMED_WATTS_PER_CORE"]

log = logging.getLogger(__name__)
THROUGHPUT_BATCH = 8
RAPL = Path("/sys/class/powercap/intel-rapl:0/energy_uj")
#: used only when no energy counter is readable; the card labels the figure as an estimate
ASSUMED_WATTS_PER_CORE = 10.0
_INT8_KINDS = ("QLinearConv", "ConvInteger", "QLinearMatMul", "MatMulInteger", "QGemm",
               "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QAttention")
_FLOAT_KINDS = ("Conv", "FusedConv", "MatMul", "FusedMatMul", "Gemm", "FusedGemm")


@dataclass(frozen=True)
class VariantFiles:
    name: str  # fp32, distilled, int8
    single: Path  # batch 1
    batched: Path  # batch THROUGHPUT_BATCH


def export_variant(model: Any, input_shape: tuple[int, int, int], folder: Path, name: str,
                   normalization: Normalization) -> VariantFiles:
    """``model`` behind its preprocessing, as ONNX files that take uint8 pixels (batch 1 and batched)."""
    from search.training.standardise import PixelInput

    folder.mkdir(parents=True, exist_ok=True)
    wrapped = PixelInput(model.eval().cpu(), normalization).eval()
    single = export_onnx(wrapped, input_shape, folder / f"{name}.onnx", batch=1, input_dtype="uint8")
    batched = export_onnx(wrapped, input_shape, folder / f"{name}.b{THROUGHPUT_BATCH}.onnx",
                          batch=THROUGHPUT_BATCH, input_dtype="uint8")
    return VariantFiles(name, single, batched)


def calibration_batches(pixels: np.ndarray, batches: int = 16, batch: int = 8, seed: int = 0
                        ) -> list[np.ndarray]:
    """Real training images (uint8 pixels, as the files take them) for static int8 calibration."""
    x = np.asarray(pixels)
    idx = np.random.default_rng(seed).permutation(len(x))[:batches * batch]
    return [x[idx[i:i + batch]] for i in range(0, len(idx), batch)]


def quantize_variant(source: VariantFiles, folder: Path, calibration: list[np.ndarray], transformer: bool,
                     method: str = "minmax", name: str = "int8") -> VariantFiles:
    """ORT static QDQ int8 (uint8 activations, int8 per-channel weights); transformers: MatMul/Gemm/Conv
    only."""
    ops = TRANSFORMER_OPS if transformer else None
    one_by_one = [c[i:i + 1] for c in calibration for i in range(len(c))]  # every image, at batch 1
    single = quantize_int8(source.single, folder / f"{name}.onnx", one_by_one, ops, method)
    full = [c for c in calibration if len(c) == THROUGHPUT_BATCH]
    batched = quantize_int8(source.batched, folder / f"{name}.b{THROUGHPUT_BATCH}.onnx", full, ops, method)
    return VariantFiles(name, single, batched)


def int8_op_share(path: Path, threads: int = 1) -> dict[str, int]:
    """Convolutions/matmuls in ORT's optimized graph of ``path``: how many run in int8, how many in float."""
    import onnx
    import onnxruntime as ort

    optimized = path.with_suffix(".optimized.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.optimized_model_filepath = str(optimized)
    options.log_severity_level = 3  # its warning that the saved graph is host-specific is the point here
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(str(optimized)).graph
    optimized.unlink(missing_ok=True)
    kinds = [n.op_type for n in graph.node]
    return {"int8": sum(k in _INT8_KINDS for k in kinds), "float": sum(k in _FLOAT_KINDS for k in kinds)}


def onnx_accuracy(path: Path, pixels: np.ndarray, labels: np.ndarray, threads: int = 1) -> float:
    """Top-1 accuracy of the batch-1 ONNX model on uint8 ``pixels`` (one image at a time, as it ships)."""
    session = make_session(str(path), "cpu", threads)
    name = session.get_inputs()[0].name
    correct = 0
    for i in range(len(labels)):
        logits = session.run(None, {name: pixels[i:i + 1]})[0]
        correct += int(logits.argmax() == labels[i])
    return correct / max(1, len(labels))


def _read_rapl() -> int | None:
    try:
        return int(RAPL.read_text())
    except (OSError, ValueError):
        return None


def _energy_mj(path: Path, input_shape: tuple, p50_ms: float, threads: int) -> dict[str, Any]:
    before = _read_rapl()
    if before is None:
        return {"energy_mj": p50_ms * ASSUMED_WATTS_PER_CORE * threads, "energy_source":
                f"estimate: p50 x {ASSUMED_WATTS_PER_CORE:g} W per busy core (no readable energy counter on "
                f"this host)"}
    session = make_session(str(path), "cpu", threads)
    feed = random_feed(session, input_shape)
    runs, start = 0, time.perf_counter()
    before = _read_rapl()
    while time.perf_counter() - start < 1.0:
        session.run(None, feed)
        runs += 1
    after = _read_rapl()
    if after is None or before is None or after < before:
        return {"energy_mj": None, "energy_source": "RAPL counter unreadable or wrapped"}
    return {"energy_mj": (after - before) / 1000 / runs, "energy_source": "measured: RAPL package counter "
                                                                        "(whole package, idle included)"}


def measure_variants(variants: dict[str, VariantFiles], input_shape: tuple[int, int, int], protocol: Protocol,
                     threads: int = 1) -> dict[str, dict[str, Any]]:
    """Per variant: latency at batch 1 (p50/p90/p99, peak memory, file size), throughput at a larger batch,
    energy. All files are timed together, their protocol rounds interleaved, so a burst of load on a shared
    host does not favour one variant over another."""
    names = list(variants)
    models = [(str(variants[n].single), (1, *input_shape)) for n in names]
    models += [(str(variants[n].batched), (THROUGHPUT_BATCH, *input_shape)) for n in names]
    timed = timing_backend().time_models(models, protocol, threads)
    out = {}
    for i, name in enumerate(names):
        single, batched = timed[i], timed[len(names) + i]
        out[name] = {"p50_ms": single["p50_ms"], "p90_ms": single["p90_ms"], "p99_ms": single["p99_ms"],
                     "peak_memory_bytes": single.get("peak_memory_bytes"),
                     "file_bytes": os.path.getsize(variants[name].single),
                     "throughput_per_s": THROUGHPUT_BATCH * 1000.0 / batched["p50_ms"],
                     "throughput_batch": THROUGHPUT_BATCH, "timing_rounds": protocol.rounds,
                     **_energy_mj(variants[name].single, (1, *input_shape), single["p50_ms"], threads)}
    return out
