"""LayerSpec: one operator of an architecture, described analytically.

A space's ``layers(config)`` returns a list of these without building a torch
model; predictors turn them into features. Conventions:

- Spatial ops use ``(c, h, w)``; token ops (transformer) use ``h = tokens``,
  ``w = 1``.
- Conv / linear layers include their fused BatchNorm and activation (as
  deployed); a BN's affine weights are counted in ``params``.
- ``flops`` follows ``torch.utils.flop_counter``: 2 per multiply-accumulate of
  conv, linear and matmul ops; elementwise ops (pooling, add, norm, shuffle)
  report 0 FLOPs but still report the ``bytes_moved`` they cost.
- ``bytes_moved`` is fp32 traffic: 4 x (input + output elements + parameters
  + materialised intermediates such as attention scores).

It is a ``NamedTuple`` on purpose: the predictor scores thousands of
candidates per second and a frozen dataclass is several times slower to build.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["LayerSpec", "KINDS", "total_flops", "total_params", "total_bytes"]

#: Every ``LayerSpec.kind`` a space may emit. Predictors key their features on it.
KINDS = (
    "conv",  # dense or grouped conv (+BN+act); a ViT patch embedding too
    "dwconv",  # depthwise conv (+BN+act)
    "linear",  # fully connected, on pooled features or on tokens (+act)
    "se",  # squeeze-excite: global pool, two 1x1 convs, gate, multiply
    "attn_dense",  # softmax(QK^T)V over all tokens
    "attn_local",  # the same within non-overlapping windows (kernel = window tokens)
    "attn_global",  # local windows plus a few global tokens (kernel = window tokens)
    "norm",  # stand-alone BatchNorm / LayerNorm (+act)
    "add",  # elementwise sum of branches (residual, cell nodes)
    "pool",  # k x k average / max pooling
    "gap",  # global average pooling
    "shuffle",  # channel shuffle
)


class LayerSpec(NamedTuple):
    kind: str
    c_in: int
    c_out: int
    h_in: int
    w_in: int
    h_out: int
    w_out: int
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    expansion: float = 1.0
    activation: str = "none"
    flops: int = 0
    params: int = 0
    bytes_moved: int = 0


def total_flops(layers: list[LayerSpec]) -> int:
    return sum(layer.flops for layer in layers)


def total_params(layers: list[LayerSpec]) -> int:
    return sum(layer.params for layer in layers)


def total_bytes(layers: list[LayerSpec]) -> int:
    return sum(layer.bytes_moved for layer in layers)
