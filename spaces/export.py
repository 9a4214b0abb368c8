"""Export a built model to ONNX with the settings measured to work (docs/ARCHITECTURE.md, Measured
choices)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any

__all__ = ["export_onnx", "OPSET"]

OPSET = 18
log = logging.getLogger(__name__)


def export_onnx(model: Any, input_shape: tuple[int, ...], path: str | Path, batch: int = 1,
                input_dtype: str = "float32") -> Path:
    """Export ``model`` (eval mode, fp32) for ``input_dtype`` inputs of ``(batch, *input_shape)``.

    Uses the dynamo exporter (the legacy one is deprecated) with the weights
    inside the file, so one ``.onnx`` file is the whole model.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    x = torch.zeros((batch, *input_shape), dtype=getattr(torch, input_dtype))
    # the dynamo exporter prints progress lines and warnings on stdout; keep them in the log
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (x,), str(path), dynamo=True, opset_version=OPSET, external_data=False,
                input_names=["input"], output_names=["logits"],
            )
    finally:
        model.train(was_training)
        if sink.getvalue():
            log.debug("onnx export output:\n%s", sink.getvalue())
    return path
