"""Named features of an architecture, computed from its LayerSpec list.

Per op kind: how many ops, their FLOPs, params and bytes moved; then totals,
depth (ops with weights), input resolution and precision. Kinds come from
``spaces.KINDS`` so a new kind cannot be silently dropped (nn-Meter's silent
zero for unknown kernels is what we avoid): an unknown kind is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from spaces import KINDS, LayerSpec, NasError

__all__ = ["FEATURE_NAMES", "PRECISIONS", "layer_features", "feature_matrix", "arch_features"]

PRECISIONS = ("fp32", "int8")
_STATS = ("count", "flops", "params", "bytes")
_KIND_OFFSET = {kind: i * len(_STATS) for i, kind in enumerate(KINDS)}
_N_KIND_FEATURES = len(KINDS) * len(_STATS)

FEATURE_NAMES: tuple[str, ...] = (
    *(f"{kind}_{stat}" for kind in KINDS for stat in _STATS),
    "total_flops",
    "total_params",
    "total_bytes",
    "depth",
    "input_size",
    "int8",
)


def layer_features(layers: Sequence[LayerSpec], precision: str = "fp32") -> list[float]:
    """One feature row (aligned with ``FEATURE_NAMES``) for one architecture."""
    if precision not in PRECISIONS:
        raise NasError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    row = [0.0] * _N_KIND_FEATURES
    flops = params = moved = depth = 0
    offsets = _KIND_OFFSET
    for layer in layers:
        try:
            i = offsets[layer.kind]
        except KeyError:
            raise NasError(f"unknown layer kind {layer.kind!r}; known: {', '.join(KINDS)}") from None
        row[i] += 1
        row[i + 1] += layer.flops
        row[i + 2] += layer.params
        row[i + 3] += layer.bytes_moved
        flops += layer.flops
        params += layer.params
        moved += layer.bytes_moved
        depth += layer.params > 0
    input_size = layers[0].h_in if layers else 0
    row += [flops, params, moved, depth, input_size, 1.0 if precision == "int8" else 0.0]
    return row


def feature_matrix(archs: Iterable[Sequence[LayerSpec]], precision: str = "fp32") -> np.ndarray:
    """Feature rows of many architectures as a float64 matrix."""
    return np.array([layer_features(layers, precision) for layers in archs], dtype=np.float64)


def arch_features(space, configs, input_shape=None, num_classes: int = 10,
                  precision: str = "fp32") -> np.ndarray:
    """``[FEATURE_NAMES | space.encoding_names()]`` rows: op costs plus where the choices sit.

    ``input_shape`` defaults to each config's own ``space.input_shape(config)``.
    """
    layers, encode = space.layers, space.encode
    rows = []
    for config in configs:
        shape = input_shape or space.input_shape(config)
        rows.append(layer_features(layers(config, shape, num_classes), precision) + list(encode(config)))
    width = len(FEATURE_NAMES) + len(space.encoding_names())
    return np.array(rows, dtype=np.float64).reshape(-1, width)
