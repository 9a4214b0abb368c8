"""Constructors of LayerSpecs with their analytic cost (FLOPs, params, bytes).

Every space describes its operators through these, so the counting rules of
``layerspec`` live in one place.
"""

from __future__ import annotations

from .layerspec import LayerSpec

__all__ = [
    "BYTES_PER_ELEMENT",
    "conv_out_size",
    "conv",
    "linear",
    "squeeze_excite",
    "attention",
    "norm",
    "elementwise",
    "pool",
    "global_pool",
]

BYTES_PER_ELEMENT = 4  # fp32


def conv_out_size(size: int, kernel: int, stride: int, padding: int | None = None) -> int:
    """Output size of a conv/pool with symmetric padding (``kernel // 2`` by default)."""
    if padding is None:
        padding = kernel // 2
    return (size + 2 * padding - kernel) // stride + 1


def conv(
    c_in: int,
    c_out: int,
    h: int,
    w: int,
    kernel: int,
    stride: int = 1,
    groups: int = 1,
    activation: str = "none",
    *,
    bias: bool = False,
    bn: bool = True,
    expansion: float = 1.0,
    padding: int | None = None,
) -> LayerSpec:
    """A conv with optional bias, fused BatchNorm and activation."""
    h_out = conv_out_size(h, kernel, stride, padding)
    w_out = conv_out_size(w, kernel, stride, padding)
    weights = c_out * (c_in // groups) * kernel * kernel
    params = weights + (c_out if bias else 0) + (2 * c_out if bn else 0)
    flops = 2 * h_out * w_out * weights
    moved = (c_in * h * w + c_out * h_out * w_out + params) * BYTES_PER_ELEMENT
    kind = "dwconv" if groups > 1 and groups == c_in == c_out else "conv"
    return LayerSpec(kind, c_in, c_out, h, w, h_out, w_out, kernel, stride, groups,
                     expansion, activation, flops, params, moved)


def linear(
    c_in: int,
    c_out: int,
    tokens: int = 1,
    activation: str = "none",
    *,
    bias: bool = True,
    expansion: float = 1.0,
) -> LayerSpec:
    """A fully connected layer applied to ``tokens`` rows."""
    params = c_in * c_out + (c_out if bias else 0)
    flops = 2 * tokens * c_in * c_out
    moved = (tokens * (c_in + c_out) + params) * BYTES_PER_ELEMENT
    return LayerSpec("linear", c_in, c_out, tokens, 1, tokens, 1, 1, 1, 1,
                     expansion, activation, flops, params, moved)


def squeeze_excite(
    channels: int, reduced: int, h: int, w: int, activation: str = "relu", gate: str = "sigmoid"
) -> LayerSpec:
    """Global pool -> 1x1 conv (bias) -> act -> 1x1 conv (bias) -> gate -> multiply."""
    params = 2 * channels * reduced + reduced + channels
    flops = 4 * channels * reduced
    moved = (2 * channels * h * w + channels * h * w + params) * BYTES_PER_ELEMENT
    return LayerSpec("se", channels, channels, h, w, h, w, 1, 1, 1,
                     reduced / channels, f"{activation}+{gate}", flops, params, moved)


def attention(
    kind: str, dim: int, heads: int, queries: int, keys_per_query: int, window: int = 0
) -> LayerSpec:
    """The softmax(QK^T)V core of attention (projections are separate ``linear`` specs).

    ``queries`` rows each attend to ``keys_per_query`` keys: N for dense
    attention, the window size for local attention. FLOPs are 2 x (QK^T + AV).
    """
    scores = heads * queries * keys_per_query
    flops = 2 * 2 * queries * keys_per_query * dim
    # read q, k, v; write + read the score matrix; write the output
    moved = (3 * queries * dim + 2 * scores + queries * dim) * BYTES_PER_ELEMENT
    return LayerSpec(kind, dim, dim, queries, 1, queries, 1, window or keys_per_query, 1, heads,
                     1.0, "softmax", flops, 0, moved)


def norm(channels: int, h: int, w: int = 1, activation: str = "none") -> LayerSpec:
    """A stand-alone BatchNorm or LayerNorm with affine weights (2 x channels)."""
    params = 2 * channels
    moved = (2 * channels * h * w + params) * BYTES_PER_ELEMENT
    return LayerSpec("norm", channels, channels, h, w, h, w, 1, 1, 1,
                     1.0, activation, 0, params, moved)


def elementwise(kind: str, channels: int, h: int, w: int = 1, inputs: int = 2) -> LayerSpec:
    """A parameter-free elementwise op (``add`` of ``inputs`` tensors, ``shuffle``)."""
    moved = (inputs + 1) * channels * h * w * BYTES_PER_ELEMENT
    return LayerSpec(kind, channels, channels, h, w, h, w, 1, 1, 1, 1.0, "none", 0, 0, moved)


def pool(channels: int, h: int, w: int, kernel: int, stride: int = 1,
         padding: int | None = None) -> LayerSpec:
    h_out = conv_out_size(h, kernel, stride, padding)
    w_out = conv_out_size(w, kernel, stride, padding)
    moved = channels * (h * w + h_out * w_out) * BYTES_PER_ELEMENT
    return LayerSpec("pool", channels, channels, h, w, h_out, w_out, kernel, stride, 1,
                     1.0, "none", 0, 0, moved)


def global_pool(channels: int, h: int, w: int) -> LayerSpec:
    moved = channels * (h * w + 1) * BYTES_PER_ELEMENT
    return LayerSpec("gap", channels, channels, h, w, 1, 1, h, 1, 1, 1.0, "none", 0, 0, moved)
