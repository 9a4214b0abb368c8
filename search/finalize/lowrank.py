"""Low-rank factorization of 1x1 convolutions and linear layers, a finalize pass.

A layer with weight ``W`` (out x in) becomes two: ``in -> r -> out`` with the
rank-``r`` truncated SVD of ``W`` split evenly between them (``U sqrt(S)`` and
``sqrt(S) V^T``), so the pair computes the best rank-``r`` approximation of
the layer before any fine-tuning. ``r`` keeps ``keep`` of the layer's
parameters; layers where that saves nothing, or that are tiny, stay as they
are. Whether the result is faster is not assumed: finalize measures it and
drops it when it is slower or less accurate than allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["factorize", "Factorized"]


@dataclass(frozen=True)
class Factorized:
    changed: int  # layers replaced by a pair
    params_before: int
    params_after: int


def _rank(n_out: int, n_in: int, keep: float) -> int:
    return int(keep * n_out * n_in / (n_out + n_in))


def _split(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(first: rank x in, second: out x rank) with second @ first the best rank-``rank`` approximation."""
    u, s, vh = torch.linalg.svd(weight.detach().double(), full_matrices=False)
    root = s[:rank].sqrt()
    return (root[:, None] * vh[:rank]).to(weight.dtype), (u[:, :rank] * root[None, :]).to(weight.dtype)


def _pair(layer: nn.Module, rank: int) -> nn.Module | None:
    bias = layer.bias is not None
    if isinstance(layer, nn.Linear):
        first_w, second_w = _split(layer.weight, rank)
        first, second = (nn.Linear(layer.in_features, rank, bias=False),
                         nn.Linear(rank, layer.out_features, bias=bias))
        first.weight.data.copy_(first_w)
        second.weight.data.copy_(second_w)
    elif isinstance(layer, nn.Conv2d):
        w = layer.weight[:, :, 0, 0]
        first_w, second_w = _split(w, rank)
        first = nn.Conv2d(layer.in_channels, rank, 1, stride=layer.stride, bias=False)
        second = nn.Conv2d(rank, layer.out_channels, 1, bias=bias)
        first.weight.data.copy_(first_w[:, :, None, None])
        second.weight.data.copy_(second_w[:, :, None, None])
    else:
        return None
    if bias:
        second.bias.data.copy_(layer.bias.detach())
    return nn.Sequential(first, second)


def _factorizable(layer: nn.Module) -> tuple[int, int] | None:
    """(out, in) of a plain 1x1 convolution or linear layer, else None."""
    if isinstance(layer, nn.Linear):
        return layer.out_features, layer.in_features
    if (type(layer) is nn.Conv2d and layer.kernel_size == (1, 1) and layer.groups == 1
            and layer.padding in ((0, 0), 0) and layer.dilation == (1, 1)):
        return layer.out_channels, layer.in_channels
    return None


def factorize(model: nn.Module, keep: float = 0.5, min_params: int = 4096) -> Factorized:
    """Replace, in place, every 1x1 convolution and linear layer of at least ``min_params`` weights
    whose rank keeping ``keep`` of its parameters is below its full rank."""
    if not 0 < keep < 1:
        raise ValueError(f"keep must be in (0, 1), got {keep!r}")
    swaps = []
    for module in model.modules():
        for child_name, child in module.named_children():
            shape = _factorizable(child)
            if shape is None or shape[0] * shape[1] < min_params:
                continue
            rank = _rank(*shape, keep)
            if 1 <= rank < min(shape):
                swaps.append((module, child_name, child, rank))
    before = sum(p.numel() for p in model.parameters())
    for parent, child_name, child, rank in swaps:
        setattr(parent, child_name, _pair(child, rank))
    after = sum(p.numel() for p in model.parameters())
    return Factorized(len(swaps), before, after)
