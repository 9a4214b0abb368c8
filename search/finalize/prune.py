"""Structured channel pruning, a finalize pass: fewer hidden channels, a smaller dense model.

Pruned are the channels inside a block, whose removal leaves the block's input
and output (and so the rest of the network) unchanged:

- timm's ``InvertedResidual`` (the ``mobile_cnn`` blocks): the expanded channels
  of ``conv_pw -> bn1 -> conv_dw -> bn2 -> se -> conv_pwl``;
- timm's ``Mlp`` (the ``sparse_vit`` feed-forward): the hidden units of ``fc1 -> fc2``.

A channel's importance is its contribution to the block's output: the L1 norm
of its column in the output projection times the scale its last norm layer
gives it (or its input row's L1 norm for an ``Mlp``). The top ``keep`` share is
kept, rounded up to a multiple of 8 (vector widths). The pruned model is then
fine-tuned; finalize measures it and drops it when it is slower or less
accurate than allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["prune_channels", "Pruned"]


@dataclass(frozen=True)
class Pruned:
    changed: int  # blocks whose hidden channels were cut
    params_before: int
    params_after: int


def _kept(n: int, keep: float) -> int:
    k = max(1, math.ceil(n * keep))
    return min(n, math.ceil(k / 8) * 8) if n >= 16 else n


def _take(param: nn.Parameter | None, idx: torch.Tensor, dim: int) -> nn.Parameter | None:
    return None if param is None else nn.Parameter(param.detach().index_select(dim, idx).clone())


def _prune_conv(conv: nn.Conv2d, idx: torch.Tensor, *, out: bool) -> None:
    """Keep output channels ``idx`` (``out``) or input channels ``idx`` of a plain or depthwise conv."""
    if conv.groups == conv.in_channels == conv.out_channels and conv.groups > 1:  # depthwise: both
        conv.weight, conv.bias = _take(conv.weight, idx, 0), _take(conv.bias, idx, 0)
        conv.in_channels = conv.out_channels = conv.groups = len(idx)
    elif out:
        conv.weight, conv.bias = _take(conv.weight, idx, 0), _take(conv.bias, idx, 0)
        conv.out_channels = len(idx)
    else:
        conv.weight = _take(conv.weight, idx, 1)
        conv.in_channels = len(idx)


def _prune_norm(norm: nn.Module, idx: torch.Tensor) -> None:
    norm.weight, norm.bias = _take(norm.weight, idx, 0), _take(norm.bias, idx, 0)
    if isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)):
        norm.running_mean = norm.running_mean.index_select(0, idx).clone()
        norm.running_var = norm.running_var.index_select(0, idx).clone()
        norm.num_features = len(idx)
    elif isinstance(norm, nn.LayerNorm):
        norm.normalized_shape = (len(idx),)


def _inverted_residual(block: nn.Module, keep: float) -> bool:
    conv_pw, conv_dw, conv_pwl = (getattr(block, n, None) for n in ("conv_pw", "conv_dw", "conv_pwl"))
    if not all(isinstance(c, nn.Conv2d) for c in (conv_pw, conv_dw, conv_pwl)) or conv_pw.groups != 1:
        return False
    hidden = conv_pw.out_channels
    if conv_dw.groups != hidden or getattr(block, "conv_s2d", None) is not None:
        return False
    k = _kept(hidden, keep)
    if k >= hidden:
        return False
    importance = conv_pwl.weight.detach().abs().sum(dim=(0, 2, 3)) * block.bn2.weight.detach().abs()
    idx = importance.topk(k).indices.sort().values
    _prune_conv(conv_pw, idx, out=True)
    _prune_norm(block.bn1, idx)
    _prune_conv(conv_dw, idx, out=True)
    _prune_norm(block.bn2, idx)
    se = getattr(block, "se", None)
    if se is not None and hasattr(se, "conv_reduce"):
        _prune_conv(se.conv_reduce, idx, out=False)
        _prune_conv(se.conv_expand, idx, out=True)
    _prune_conv(conv_pwl, idx, out=False)
    return True


def _mlp(block: nn.Module, keep: float) -> bool:
    fc1, fc2 = getattr(block, "fc1", None), getattr(block, "fc2", None)
    if not (isinstance(fc1, nn.Linear) and isinstance(fc2, nn.Linear)):
        return False
    hidden = fc1.out_features
    k = _kept(hidden, keep)
    if k >= hidden:
        return False
    importance = fc2.weight.detach().abs().sum(0) * fc1.weight.detach().abs().sum(1)
    idx = importance.topk(k).indices.sort().values
    fc1.weight, fc1.bias = _take(fc1.weight, idx, 0), _take(fc1.bias, idx, 0)
    fc1.out_features = k
    norm = getattr(block, "norm", None)
    if norm is not None and not isinstance(norm, nn.Identity):
        _prune_norm(norm, idx)
    fc2.weight = _take(fc2.weight, idx, 1)
    fc2.in_features = k
    return True


def prune_channels(model: nn.Module, keep: float = 0.5) -> Pruned:
    """Cut, in place, the hidden channels of every prunable block to ``keep`` of them."""
    if not 0 < keep < 1:
        raise ValueError(f"keep must be in (0, 1), got {keep!r}")
    before = sum(p.numel() for p in model.parameters())
    blocks = 0
    with torch.no_grad():
        for module in list(model.modules()):
            name = type(module).__name__
            if name == "InvertedResidual" and type(module).__module__.startswith("timm."):
                blocks += _inverted_residual(module, keep)
            elif name == "Mlp":
                blocks += _mlp(module, keep)
    return Pruned(blocks, before, sum(p.numel() for p in model.parameters()))
