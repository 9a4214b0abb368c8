"""FBNet search space, CIFAR setting: 22 layers with 9 block choices each.

The macro-architecture is the one in ``../shared/data/DATA.md`` (the HW-NAS-Bench
/ HELP FBNet space): a 3x3 stem, 22 searchable layers in 7 stages, a 1x1 head
conv to 1504 channels, global average pooling and a classifier. A config is
the 22 choices; its string form joins them with ``|`` as in ``fbnet_latency.csv``.

``layers()`` describes each block as it runs (see ``models/fbnet_net.py``):

- ``kK_eE[_gG]``: conv 1x1 (groups G, +BN+ReLU), shuffle when G > 1, KxK
  dwconv with the layer's stride (+BN+ReLU), conv 1x1 (groups G, +BN) and an
  ``add`` when the block is residual (C_in == C_out and stride 1);
- ``skip``: nothing when the shape is kept, else a 1x1 conv (+BN+ReLU).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from . import costs
from .base import InputShape, PositionalOpsSpace
from .config import ArchConfig, check_op_tuple
from .errors import ConfigError
from .layerspec import LayerSpec

__all__ = ["OPS", "FBNetConfig", "FBNetSpace", "BlockPlan", "block_plans"]

OPS = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
STAGE_DEPTHS = (1, 4, 4, 4, 4, 4, 1)
STAGE_CHANNELS = (16, 24, 32, 64, 112, 184, 352)
STAGE_STRIDES = (1, 1, 2, 2, 1, 2, 1)
STEM_CHANNELS = 16
HEAD_CHANNELS = 1504
NUM_LAYERS = sum(STAGE_DEPTHS)  # 22


class BlockPlan(NamedTuple):
    """One searchable layer: its choice decoded, and its place in the macro-architecture."""

    op: str  # the choice, e.g. "k5_e1_g2" or "skip"
    kernel: int  # 0 for skip
    expansion: int  # 0 for skip
    groups: int  # of the two 1x1 convs
    c_in: int
    c_out: int
    stride: int

    @property
    def is_skip(self) -> bool:
        return self.op == "skip"

    @property
    def keeps_shape(self) -> bool:
        return self.c_in == self.c_out and self.stride == 1


def _decode(op: str) -> tuple[int, int, int]:
    """``"k5_e1_g2"`` -> (kernel 5, expansion 1, groups 2); ``"skip"`` -> (0, 0, 1)."""
    if op == "skip":
        return 0, 0, 1
    parts = op.split("_")
    groups = int(parts[2][1:]) if len(parts) == 3 else 1
    return int(parts[0][1:]), int(parts[1][1:]), groups


def _layer_shapes() -> tuple[tuple[int, int, int], ...]:
    """(c_in, c_out, stride) of the 22 layers."""
    shapes, c_in = [], STEM_CHANNELS
    for depth, c_out, stride in zip(STAGE_DEPTHS, STAGE_CHANNELS, STAGE_STRIDES):
        for i in range(depth):
            shapes.append((c_in, c_out, stride if i == 0 else 1))
            c_in = c_out
    return tuple(shapes)


_DECODED = {op: _decode(op) for op in OPS}
LAYER_SHAPES = _layer_shapes()
PARAM_NAMES = tuple(f"layer_{i:02d}" for i in range(NUM_LAYERS))


@dataclass(frozen=True)
class FBNetConfig(ArchConfig):
    """The 22 layer choices, each one of :data:`OPS`."""

    choices: tuple[str, ...]

    def __post_init__(self) -> None:
        check_op_tuple(self, "choices", NUM_LAYERS, OPS)

    @property
    def arch_str(self) -> str:
        return "|".join(self.choices)

    @classmethod
    def from_str(cls, text: str) -> FBNetConfig:
        if not isinstance(text, str):
            raise ConfigError(f"{cls.__name__}: expected a string, got {type(text).__name__}")
        parts = text.split("|")
        if len(parts) != NUM_LAYERS:
            raise ConfigError(f"{cls.__name__}: expected {NUM_LAYERS} layer choices separated by '|', "
                              f"got {len(parts)} in {text!r}")
        for i, op in enumerate(parts):
            if op not in _DECODED:
                raise ConfigError(f"{cls.__name__}: layer {i} is {op!r} in {text!r}; "
                                  f"valid ops: {', '.join(OPS)}")
        return cls(tuple(parts))


def block_plans(config: FBNetConfig) -> tuple[BlockPlan, ...]:
    """The 22 layers of ``config``, decoded, with their channels and strides."""
    return tuple(
        BlockPlan(op, *_DECODED[op], *shape) for op, shape in zip(config.choices, LAYER_SHAPES)
    )


@lru_cache(maxsize=8192)
def _block_specs(op: str, c_in: int, c_out: int, stride: int, h: int, w: int) -> tuple[LayerSpec, ...]:
    """The LayerSpecs of one layer; keyed by everything that determines them."""
    kernel, expansion, groups = _DECODED[op]
    if op == "skip":
        if c_in == c_out and stride == 1:
            return ()  # identity
        return (costs.conv(c_in, c_out, h, w, 1, stride, activation="relu"),)
    mid = c_in * expansion
    expand = costs.conv(c_in, mid, h, w, 1, 1, groups, "relu", expansion=expansion)
    depthwise = costs.conv(mid, mid, h, w, kernel, stride, mid, "relu", expansion=expansion)
    h_out, w_out = depthwise.h_out, depthwise.w_out
    project = costs.conv(mid, c_out, h_out, w_out, 1, 1, groups, expansion=expansion)
    specs = [expand]
    if groups > 1:
        specs.append(costs.elementwise("shuffle", mid, h, w, inputs=1))
    specs += [depthwise, project]
    if c_in == c_out and stride == 1:
        specs.append(costs.elementwise("add", c_out, h_out, w_out))
    return tuple(specs)


class FBNetSpace(PositionalOpsSpace):
    name = "fbnet"
    description = "FBNet (CIFAR setting): 22 layers x 9 inverted-residual/skip choices, HW-NAS-Bench data"
    config_cls = FBNetConfig
    positions, ops, ops_field = PARAM_NAMES, OPS, "choices"

    def build(self, config: ArchConfig, num_classes: int = 10, in_chans: int = 3,
              img_size: int | None = None) -> Any:
        from .models.fbnet_net import FBNet

        config = self.check_config(config)
        size = 32 if img_size is None else img_size
        self.check_input_shape((in_chans, size, size))
        return FBNet(block_plans(config), num_classes=num_classes, in_chans=in_chans,
                     stem_channels=STEM_CHANNELS, head_channels=HEAD_CHANNELS)

    def layers(self, config: ArchConfig, input_shape: InputShape | None = None,
               num_classes: int = 10) -> list[LayerSpec]:
        choices = self.check_config(config).choices
        c, h, w = self.check_input_shape(input_shape or self.input_shape(config))
        stem = costs.conv(c, STEM_CHANNELS, h, w, 3, 1, activation="relu")
        specs = [stem]
        h, w = stem.h_out, stem.w_out
        for op, (c_in, c_out, stride) in zip(choices, LAYER_SHAPES):
            block = _block_specs(op, c_in, c_out, stride, h, w)
            if block:
                specs.extend(block)
                h, w = block[-1].h_out, block[-1].w_out
        head = costs.conv(STAGE_CHANNELS[-1], HEAD_CHANNELS, h, w, 1, activation="relu")
        specs += [head, costs.global_pool(HEAD_CHANNELS, h, w), costs.linear(HEAD_CHANNELS, num_classes)]
        return specs

    def extremes(self) -> tuple[FBNetConfig, FBNetConfig]:
        """Per layer, the cheapest and the dearest choice: each layer's FLOPs depend on its choice only."""
        smallest, largest = [], []
        h = w = 32  # the CIFAR resolution every FBNet config is meant for
        for c_in, c_out, stride in LAYER_SHAPES:
            flops = {op: sum(s.flops for s in _block_specs(op, c_in, c_out, stride, h, w)) for op in OPS}
            smallest.append(min(OPS, key=flops.__getitem__))
            largest.append(max(OPS, key=flops.__getitem__))
            h, w = costs.conv_out_size(h, 3, stride), costs.conv_out_size(w, 3, stride)
        return FBNetConfig(tuple(smallest)), FBNetConfig(tuple(largest))
