"""Quantization-aware fine-tuning for the ONNX Runtime int8 path (docs/ARCHITECTURE.md, Measured choices).

PyTorch's eager/FX quantization is deprecated, so the fake quantization here
is explicit and minimal, mirroring what ORT's static QDQ does at inference:

- weights of every Conv2d/Linear: symmetric int8, per output channel;
- inputs of every Conv2d/Linear: asymmetric uint8 per tensor, with a running
  min/max (what MinMax calibration will find).

Gradients pass straight through (``torch.fake_quantize_*`` implement the STE).
After training the fake quantization is removed, leaving an ordinary float
model with weights that survive quantization; it is then exported and
quantized statically with ORT like any other.
"""

from __future__ import annotations

import logging
from typing import Any

from search.training.settings import TrainSettings
from search.training.trainer import Trainer

__all__ = ["quantization_aware_finetune"]

log = logging.getLogger(__name__)
MOMENTUM = 0.1


def _weight_fake_quant(module: Any, inputs: Any) -> None:
    import torch

    w = module.weight_float
    axis_max = w.detach().abs().flatten(1).max(dim=1).values.clamp_min(1e-8)
    scale = (axis_max / 127.0).float()
    zero = torch.zeros_like(scale, dtype=torch.int32)
    module.weight = torch.fake_quantize_per_channel_affine(w, scale, zero, 0, -127, 127)


def _input_fake_quant(module: Any, inputs: Any) -> tuple:
    import torch

    (x, *rest) = inputs
    if module.training:
        lo, hi = x.detach().min(), x.detach().max()
        if module.qat_range is None:
            module.qat_range = torch.stack([lo, hi])
        else:
            module.qat_range.mul_(1 - MOMENTUM).add_(MOMENTUM * torch.stack([lo, hi]))
    if module.qat_range is None:
        return (x, *rest)
    lo, hi = float(module.qat_range[0].clamp(max=0)), float(module.qat_range[1].clamp(min=0))
    scale = max((hi - lo) / 255.0, 1e-8)
    zero = int(round(-lo / scale))
    return (torch.fake_quantize_per_tensor_affine(x, scale, zero, 0, 255), *rest)


def _instrument(model: Any) -> list:
    import torch

    handles = []
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            weight = module.weight
            del module.weight  # the parameter lives on as weight_float; weight is recomputed per forward
            module.register_parameter("weight_float", weight)
            module.weight = weight.detach()
            module.qat_range = None
            handles.append((module, module.register_forward_pre_hook(_weight_fake_quant),
                            module.register_forward_pre_hook(_input_fake_quant)))
    return handles


def _strip(handles: list) -> None:
    for module, h1, h2 in handles:
        h1.remove()
        h2.remove()
        weight = module.weight_float
        del module.weight_float
        del module.weight
        module.weight = weight  # a Parameter again: an ordinary float module
        del module.qat_range


def quantization_aware_finetune(model: Any, data: Any, resolution: int, epochs: int, lr: float,
                                seed: int) -> float:
    """Fine-tune ``model`` in place under int8 fake quantization; returns the validation accuracy
    (fake-quantized).

    The model comes back as a plain float module (no hooks, no extra parameters).
    """
    handles = _instrument(model)
    try:
        trainer = Trainer(model, data, resolution, TrainSettings(epochs=epochs, lr=lr, seed=seed), epochs)
        accuracy = trainer.train_until(epochs)
    finally:
        _strip(handles)
    model.cpu().eval()
    log.info("QAT: %d layers fake-quantized, validation %.4f", len(handles), accuracy)
    return accuracy
