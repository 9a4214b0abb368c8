"""Glue from measurement rows to (LayerSpec lists, latencies).

The caller (``search`` or a test) reads a profile and passes its rows here;
this module never imports ``hwprofiles``. A row is anything with the
attributes ``space``, ``arch_str``, ``input_shape`` ("3x32x32"), ``precision``
and ``latency_ms`` (``hwprofiles.Measurement`` fits).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from spaces import LayerSpec

from .errors import PredictorError
from .features import PRECISIONS, feature_matrix

__all__ = ["LatencyData", "DEFAULT_NUM_CLASSES", "default_num_classes", "parse_input_shape",
           "rows_to_data", "check_latencies"]

#: Classes of the head as the published profiles measured them (HELP: nb201 CIFAR-10, fbnet CIFAR-100).
DEFAULT_NUM_CLASSES = {"nb201": 10, "fbnet": 100}


class LatencyData(NamedTuple):
    """Training data of one (device, space, precision): layers per architecture and measured latency."""

    layers: list[list[LayerSpec]]
    latency_ms: np.ndarray
    precision: str
    arch_strs: list[str]
    X: np.ndarray  # features.arch_features rows: named LayerSpec features, then the space's encoding


def default_num_classes(space_name: str) -> int:
    return DEFAULT_NUM_CLASSES.get(space_name, 10)


def parse_input_shape(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(part) for part in text.split("x"))
    except (ValueError, AttributeError):
        raise PredictorError(f"input_shape must look like 3x32x32, got {text!r}") from None
    return (c, h, w)


def check_latencies(latency_ms: Sequence[float] | np.ndarray, n_archs: int | None = None) -> np.ndarray:
    """Latencies as a float array; empty, non-finite or non-positive values are errors."""
    y = np.asarray(latency_ms, dtype=np.float64).ravel()
    if y.size == 0:
        raise PredictorError("no latency measurements to fit")
    if n_archs is not None and y.size != n_archs:
        raise PredictorError(f"{n_archs} architectures but {y.size} latencies")
    bad = ~np.isfinite(y) | (y <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PredictorError(f"latency_ms must be finite and positive; row {i} is {y[i]!r}")
    return y


def rows_to_data(rows: Sequence[Any], space: Any, precision: str | None = None,
                 num_classes: int | None = None) -> LatencyData:
    """Decode measurement rows of one space and one precision into :class:`LatencyData`.

    ``space`` is a ``spaces.SearchSpace``; ``precision`` defaults to the rows' only
    precision; ``num_classes`` defaults to :data:`DEFAULT_NUM_CLASSES`.
    """
    rows = list(rows)
    if not rows:
        raise PredictorError(f"no measurements for space {space.name}")
    precisions = sorted({r.precision for r in rows})
    if precision is None:
        if len(precisions) > 1:
            raise PredictorError(f"rows mix precisions {precisions}; pass precision=")
        precision = precisions[0]
    if precision not in PRECISIONS:
        raise PredictorError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    rows = [r for r in rows if r.precision == precision]
    if not rows:
        raise PredictorError(f"no {precision} measurements for space {space.name}")
    other = sorted({r.space for r in rows} - {space.name})
    if other:
        raise PredictorError(f"rows of space(s) {other} passed for space {space.name}")
    if num_classes is None:
        num_classes = default_num_classes(space.name)
    layers, latencies, arch_strs, encodings = [], [], [], []
    shapes: dict[str, tuple[int, int, int]] = {}
    for r in rows:
        shape = shapes.get(r.input_shape) or shapes.setdefault(r.input_shape,
                                                               parse_input_shape(r.input_shape))
        lat = float(r.latency_ms)
        if not math.isfinite(lat) or lat <= 0:
            raise PredictorError(f"{space.name} {r.arch_str}: latency_ms must be finite and positive, got "
                                 f"{lat!r}")
        config = space.parse(r.arch_str)
        layers.append(space.layers(config, shape, num_classes))
        encodings.append(space.encode(config))
        latencies.append(lat)
        arch_strs.append(r.arch_str)
    X = np.column_stack([feature_matrix(layers, precision), np.array(encodings, dtype=np.float64)])
    return LatencyData(layers, np.array(latencies), precision, arch_strs, X)
