"""mobile_cnn: inverted-residual (MBConv) networks built with timm's EfficientNet builder.

Six stages in the MobileNetV3 layout; per stage the depth, depthwise kernel,
expansion ratio, squeeze-excite and activation are searched, plus the width
multiplier, the stem and head widths and the input resolution. The model is a
``timm.models.efficientnet.EfficientNet`` decoded from block strings, so what
``layers()`` counts is timm's own block arithmetic, replicated without torch.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from . import costs
from .base import InputShape, SearchSpace
from .config import ArchConfig, check_choice, check_int
from .errors import ConfigError
from .layerspec import LayerSpec

__all__ = ["StageConfig", "MobileCnnConfig", "MobileCnnSpace"]

STAGE_CHANNELS = (16, 24, 40, 80, 112, 160)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2)
STEM_STRIDE = 2
STEM_HEAD_ACT = "hswish"
SE_RATIO = 0.25  # of the block input channels (timm EfficientNet convention)

KERNELS = (3, 5, 7)
EXPANSIONS = (1, 2, 3, 4, 5, 6)
ACTIVATIONS = ("relu", "hswish")
MAX_DEPTH = 8
_TIMM_ACT = {"relu": "nre", "hswish": "nhs"}


def make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """Channel rounding as timm does it (``timm.layers.make_divisible``)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < round_limit * value:
        new += divisor
    return new


@dataclass(frozen=True)
class StageConfig(ArchConfig):
    depth: int
    kernel: int
    expansion: int
    se: bool
    act: str

    def __post_init__(self) -> None:
        owner = "mobile_cnn stage"
        check_int(owner, "depth", self.depth, 1, MAX_DEPTH)
        check_choice(owner, "kernel", self.kernel, KERNELS)
        check_choice(owner, "expansion", self.expansion, EXPANSIONS)
        if not isinstance(self.se, bool):
            raise ConfigError(f"{owner}: field 'se' must be a bool, got {self.se!r}")
        check_choice(owner, "act", self.act, ACTIVATIONS)

    @property
    def arch_str(self) -> str:
        return (f"d{self.depth}k{self.kernel}e{self.expansion}{'se' if self.se else ''}"
                f"{'-hs' if self.act == 'hswish' else '-re'}")


@dataclass(frozen=True)
class MobileCnnConfig(ArchConfig):
    stages: tuple[StageConfig, ...]
    width: float = 1.0
    stem: int = 16
    head: int = 512
    resolution: int = 32

    _nested = {"stages": StageConfig}

    def __post_init__(self) -> None:
        owner = "mobile_cnn config"
        if not isinstance(self.stages, tuple) or len(self.stages) != len(STAGE_CHANNELS):
            raise ConfigError(f"{owner}: field 'stages' must be a tuple of {len(STAGE_CHANNELS)} StageConfig")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, StageConfig):
                raise ConfigError(f"{owner}: field 'stages[{i}]' must be a StageConfig, got {stage!r}")
        if (isinstance(self.width, bool) or not isinstance(self.width, (int, float))
                or not 0.25 <= self.width <= 2.0):
            raise ConfigError(f"{owner}: field 'width' must be a number in [0.25, 2.0], got {self.width!r}")
        object.__setattr__(self, "width", float(self.width))
        check_int(owner, "stem", self.stem, 8, 128)
        check_int(owner, "head", self.head, 16, 4096)
        check_int(owner, "resolution", self.resolution, 16, 1024)

    @property
    def arch_str(self) -> str:
        header = f"r{self.resolution}_w{self.width!r}_s{self.stem}_h{self.head}"
        return "|".join([header, *(s.arch_str for s in self.stages)])

    @classmethod
    def from_str(cls, text: str) -> MobileCnnConfig:
        parts = text.split("|") if isinstance(text, str) else []
        if len(parts) != 1 + len(STAGE_CHANNELS):
            raise ConfigError(
                f"mobile_cnn arch string must be 'rR_wW_sS_hH' then {len(STAGE_CHANNELS)} "
                f"'|'-separated stages like 'd2k3e4se-hs', got {text!r}"
            )
        try:
            head = dict((tok[0], tok[1:]) for tok in parts[0].split("_"))
            stages = tuple(_parse_stage(p) for p in parts[1:])
            return cls(stages=stages, width=float(head["w"]), stem=int(head["s"]),
                       head=int(head["h"]), resolution=int(head["r"]))
        except (KeyError, ValueError, IndexError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"malformed mobile_cnn arch string {text!r}: {exc}") from None


def _parse_stage(text: str) -> StageConfig:
    body, _, act = text.partition("-")
    se = body.endswith("se")
    body = body[:-2] if se else body
    if not (body.startswith("d") and "k" in body and "e" in body) or act not in ("hs", "re"):
        raise ValueError(f"bad stage {text!r}")
    depth, rest = body[1:].split("k")
    kernel, expansion = rest.split("e")
    return StageConfig(int(depth), int(kernel), int(expansion), se, "hswish" if act == "hs" else "relu")


@functools.lru_cache(maxsize=65536)
def _block_specs(
    c_in: int, c_out: int, h: int, w: int, kernel: int, stride: int, expansion: int, se: bool, act: str
) -> tuple[tuple[LayerSpec, ...], int, int]:
    """The ops of one timm InvertedResidual block; returns (specs, h_out, w_out)."""
    mid = make_divisible(c_in * float(expansion))
    specs = [costs.conv(c_in, mid, h, w, 1, 1, activation=act, expansion=expansion)]
    dw = costs.conv(mid, mid, h, w, kernel, stride, groups=mid, activation=act, expansion=expansion)
    specs.append(dw)
    h_out, w_out = dw.h_out, dw.w_out
    if se:
        reduced = make_divisible(mid * (SE_RATIO / float(expansion)))
        specs.append(costs.squeeze_excite(mid, reduced, h_out, w_out, activation="relu", gate="hsigmoid"))
    specs.append(costs.conv(mid, c_out, h_out, w_out, 1, 1, activation="none", expansion=expansion))
    if c_in == c_out and stride == 1:
        specs.append(costs.elementwise("add", c_out, h_out, w_out))
    return tuple(specs), h_out, w_out


@dataclass
class MobileCnnSpace(SearchSpace):
    """Choice sets are constructor options so a search can narrow them."""

    resolutions: tuple[int, ...] = (32, 48, 64)
    widths: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25)
    stems: tuple[int, ...] = (8, 16, 24)
    heads: tuple[int, ...] = (256, 512, 1024)
    depths: tuple[tuple[int, ...], ...] = field(default=((1, 2), *([(1, 2, 3, 4)] * 5)))

    name = "mobile_cnn"
    description = ("MobileNetV3-style MBConv networks (timm blocks): depth, kernel, expansion, SE, act per "
                   "stage")
    config_cls = MobileCnnConfig

    def __post_init__(self) -> None:
        if len(self.depths) != len(STAGE_CHANNELS):
            raise ConfigError(f"mobile_cnn: 'depths' needs {len(STAGE_CHANNELS)} tuples, one per stage")
        for name in ("resolutions", "widths", "stems", "heads"):
            if not getattr(self, name):
                raise ConfigError(f"mobile_cnn: option {name!r} must not be empty")
        # validate every choice through the config itself
        self.extremes()

    # -- encoding ------------------------------------------------------------
    def encoding_names(self) -> tuple[str, ...]:
        per_stage = ("depth", "kernel", "expansion", "se", "hswish")
        return ("resolution", "width", "stem", "head",
                *(f"s{i}_{name}" for i in range(len(STAGE_CHANNELS)) for name in per_stage))

    def encode(self, config: MobileCnnConfig) -> tuple[float, ...]:
        config = self.check_config(config)
        out = [float(config.resolution), config.width, float(config.stem), float(config.head)]
        for s in config.stages:
            out += [float(s.depth), float(s.kernel), float(s.expansion), float(s.se),
                    float(s.act == "hswish")]
        return tuple(out)

    # -- sampling ----------------------------------------------------------
    def sample(self, trial: Any) -> MobileCnnConfig:
        stages = []
        for i, depth_choices in enumerate(self.depths):
            stages.append(StageConfig(
                depth=trial.suggest_categorical(f"s{i}_depth", depth_choices),
                kernel=trial.suggest_categorical(f"s{i}_kernel", KERNELS),
                expansion=trial.suggest_categorical(f"s{i}_expansion", EXPANSIONS),
                se=trial.suggest_categorical(f"s{i}_se", (False, True)),
                act=trial.suggest_categorical(f"s{i}_act", ACTIVATIONS),
            ))
        return MobileCnnConfig(
            stages=tuple(stages),
            width=trial.suggest_categorical("width", self.widths),
            stem=trial.suggest_categorical("stem", self.stems),
            head=trial.suggest_categorical("head", self.heads),
            resolution=trial.suggest_categorical("resolution", self.resolutions),
        )

    def size(self) -> int:
        per_stage = [len(d) * len(KERNELS) * len(EXPANSIONS) * 2 * len(ACTIVATIONS) for d in self.depths]
        return (len(self.resolutions) * len(self.widths) * len(self.stems) * len(self.heads)
                * math.prod(per_stage))

    def extremes(self) -> tuple[MobileCnnConfig, MobileCnnConfig]:
        small = MobileCnnConfig(
            stages=tuple(StageConfig(min(d), min(KERNELS), min(EXPANSIONS), False, "relu")
                         for d in self.depths),
            width=min(self.widths), stem=min(self.stems), head=min(self.heads),
            resolution=min(self.resolutions))
        large = MobileCnnConfig(
            stages=tuple(StageConfig(max(d), max(KERNELS), max(EXPANSIONS), True, "hswish")
                         for d in self.depths),
            width=max(self.widths), stem=max(self.stems), head=max(self.heads),
            resolution=max(self.resolutions))
        return small, large

    # -- analytic description ---------------------------------------------
    def layers(
        self, config: MobileCnnConfig, input_shape: InputShape | None = None, num_classes: int = 10
    ) -> list[LayerSpec]:
        config = self.check_config(config)
        c, h, w = input_shape or self.input_shape(config)
        stem = costs.conv(c, config.stem, h, w, 3, STEM_STRIDE, activation=STEM_HEAD_ACT)
        specs = [stem]
        c, h, w = config.stem, stem.h_out, stem.w_out
        for stage, base, stride in zip(config.stages, STAGE_CHANNELS, STAGE_STRIDES):
            c_out = make_divisible(base * config.width)
            for i in range(stage.depth):
                block, h, w = _block_specs(c, c_out, h, w, stage.kernel, stride if i == 0 else 1,
                                           stage.expansion, stage.se, stage.act)
                specs.extend(block)
                c = c_out
        specs.append(costs.conv(c, config.head, h, w, 1, 1, activation=STEM_HEAD_ACT))
        specs.append(costs.global_pool(config.head, h, w))
        specs.append(costs.linear(config.head, num_classes))
        return specs

    # -- torch -------------------------------------------------------------
    def build(
        self, config: MobileCnnConfig, num_classes: int = 10, in_chans: int = 3, img_size: int | None = None
    ) -> Any:
        config = self.check_config(config)
        if img_size is not None and img_size < 8:
            raise ConfigError(f"mobile_cnn: img_size must be >= 8, got {img_size}")

        from timm.layers import get_act_layer
        from timm.models._efficientnet_blocks import SqueezeExcite
        from timm.models._efficientnet_builder import decode_arch_def, round_channels
        from timm.models.efficientnet import EfficientNet

        arch_def = [[_timm_block_str(stage, base, stride)]
                    for stage, base, stride in zip(config.stages, STAGE_CHANNELS, STAGE_STRIDES)]
        return EfficientNet(
            block_args=decode_arch_def(arch_def),
            num_classes=num_classes,
            num_features=config.head,
            in_chans=in_chans,
            stem_size=config.stem,
            fix_stem=True,
            act_layer=get_act_layer("hard_swish"),
            se_layer=partial(SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=get_act_layer("relu"),
                             rd_round_fn=round_channels),
            round_chs_fn=partial(round_channels, multiplier=config.width),
        )


def _timm_block_str(stage: StageConfig, channels: int, stride: int) -> str:
    se = f"_se{SE_RATIO}" if stage.se else ""
    return (f"ir_r{stage.depth}_k{stage.kernel}_s{stride}_e{stage.expansion}_c{channels}"
            f"{se}_{_TIMM_ACT[stage.act]}")
