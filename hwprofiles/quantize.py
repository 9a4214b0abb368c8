"""int8 as shipped on x86: ORT static quantization, QDQ, uint8 activations, int8 per-channel weights.

docs/ARCHITECTURE.md (Measured choices) says why each choice (signed activations and
dynamic quantization ran several times slower; transformers keep accuracy only
when just MatMul/Gemm/Conv are quantized).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["quantize_int8", "TRANSFORMER_OPS", "CALIBRATION_METHODS"]

log = logging.getLogger(__name__)
TRANSFORMER_OPS = ("MatMul", "Gemm", "Conv")
CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


class _Batches:
    """onnxruntime's CalibrationDataReader protocol over a list of arrays."""

    def __init__(self, input_name: str, batches: Iterable[np.ndarray]):
        # uint8 pixels stay uint8 (a model that takes raw pixels); anything else is fed as float32
        self._it = iter([{input_name: np.ascontiguousarray(b, dtype=b.dtype if b.dtype == np.uint8
                                                            else np.float32)} for b in batches])

    def get_next(self):
        return next(self._it, None)

    def rewind(self) -> None:  # some calibrators call it
        pass


def quantize_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    calibration: Sequence[np.ndarray],
    op_types: Sequence[str] | None = None,
    method: str = "minmax",
) -> Path:
    """Quantize ``fp32_path`` into ``out_path`` with ``calibration`` batches (real images where possible)."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown calibration method {method!r}; valid: {', '.join(CALIBRATION_METHODS)}")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    pre_path = out_path.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(pre_path), skip_symbolic_shape=True)
    input_name = ort.InferenceSession(str(pre_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    calibrate = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                 "entropy": CalibrationMethod.Entropy}[method]
    quantize_static(
        str(pre_path), str(out_path), _Batches(input_name, calibration),
        quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        per_channel=True, calibrate_method=calibrate,
        op_types_to_quantize=list(op_types) if op_types else None,
    )
    pre_path.unlink(missing_ok=True)
    return out_path
