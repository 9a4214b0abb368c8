"""Sparse-attention vision transformer space: the attention pattern is searched.

Three attention kinds (``SparseVitConfig.attention``):

- ``dense``: every token attends to every token, O(N^2).
- ``local``: tokens attend only within non-overlapping ``window x window``
  squares of the patch grid, O(N * window^2).
- ``global``: ``local`` plus ``global_tokens`` learned tokens; a grid token
  attends to its window and the global tokens, a global token to all tokens.
  (The name matches the ``attn_global`` LayerSpec kind.)

Cost accounting in :meth:`SparseVitSpace.layers` (checked against the built
model by the contract tests):

- The learned positional embedding (``N x dim``) and the global tokens
  (``G x dim``) are parameters with no op of their own: they are folded into
  the patch-embedding ``conv`` spec (``params`` and ``bytes_moved``).
- ``global`` attention is one ``attn_global`` spec per block whose FLOPs and
  bytes are the sum of its two parts (grid queries over ``window^2 + G`` keys,
  global queries over ``N + G`` keys); ``h_in`` is all ``N + G`` query tokens.
- Token ops use ``h = tokens, w = 1``. Linear layers and block norms run on
  all ``N + G`` tokens; the final norm and the mean run on the ``N`` grid
  tokens only.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from . import costs
from .base import InputShape, SearchSpace
from .config import ArchConfig, check_choice, check_int
from .errors import ConfigError
from .layerspec import LayerSpec, total_flops

__all__ = ["SparseVitConfig", "SparseVitSpace", "ATTENTION_KINDS"]

ATTENTION_KINDS = ("dense", "local", "global")
_OWNER = "SparseVitConfig"
_ARCH_RE = re.compile(
    r"r(?P<resolution>[1-9]\d*)_p(?P<patch>[1-9]\d*)_d(?P<depth>[1-9]\d*)_e(?P<dim>[1-9]\d*)"
    r"_h(?P<heads>[1-9]\d*)_m(?P<mlp_ratio>[1-9]\d*)"
    r"_(?:(?P<dense>dense)|local_w(?P<local_w>[1-9]\d*)|global_w(?P<global_w>[1-9]\d*)_g(?P<g>[1-9]\d*))"
)
_ARCH_FORMAT = "r<res>_p<patch>_d<depth>_e<dim>_h<heads>_m<mlp>_{dense|local_w<W>|global_w<W>_g<G>}"


@dataclass(frozen=True)
class SparseVitConfig(ArchConfig):
    """One sparse ViT: ``window`` is 0 for dense, ``global_tokens`` > 0 only for ``global``."""

    depth: int
    dim: int
    heads: int
    mlp_ratio: int
    patch: int
    attention: str = "dense"
    window: int = 0
    global_tokens: int = 0
    resolution: int = 32

    def __post_init__(self) -> None:
        check_int(_OWNER, "resolution", self.resolution, 8, 2048)
        check_int(_OWNER, "patch", self.patch, 1, 64)
        if self.resolution % self.patch:
            raise ConfigError(
                f"{_OWNER}: field 'patch' ({self.patch}) must divide resolution ({self.resolution})"
            )
        check_int(_OWNER, "depth", self.depth, 1, 64)
        check_int(_OWNER, "dim", self.dim, 8, 4096)
        check_int(_OWNER, "heads", self.heads, 1, 64)
        if self.dim % self.heads:
            raise ConfigError(f"{_OWNER}: field 'dim' ({self.dim}) must be divisible by heads ({self.heads})")
        check_int(_OWNER, "mlp_ratio", self.mlp_ratio, 1, 8)
        check_choice(_OWNER, "attention", self.attention, ATTENTION_KINDS)
        grid = self.grid
        if self.attention == "dense":
            if self.window != 0:
                raise ConfigError(f"{_OWNER}: field 'window' must be 0 for dense attention, got "
                                  f"{self.window!r}")
        else:
            check_int(_OWNER, "window", self.window, 1, grid)
            if grid % self.window:
                raise ConfigError(
                    f"{_OWNER}: field 'window' ({self.window}) must divide the patch grid side ({grid})"
                )
        if self.attention == "global":
            check_int(_OWNER, "global_tokens", self.global_tokens, 1, 64)
        elif self.global_tokens != 0:
            raise ConfigError(
                f"{_OWNER}: field 'global_tokens' must be 0 for {self.attention} attention, "
                f"got {self.global_tokens!r}"
            )

    # -- derived sizes ----------------------------------------------------------
    @property
    def grid(self) -> int:
        """Side of the patch grid."""
        return self.resolution // self.patch

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid

    # -- compact string form ------------------------------------------------------
    @property
    def arch_str(self) -> str:
        head = (f"r{self.resolution}_p{self.patch}_d{self.depth}_e{self.dim}"
                f"_h{self.heads}_m{self.mlp_ratio}")
        if self.attention == "dense":
            return f"{head}_dense"
        if self.attention == "local":
            return f"{head}_local_w{self.window}"
        return f"{head}_global_w{self.window}_g{self.global_tokens}"

    @classmethod
    def from_str(cls, text: str) -> SparseVitConfig:
        match = _ARCH_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ConfigError(f"{_OWNER}: cannot parse {text!r}; expected {_ARCH_FORMAT}, "
                              f"e.g. 'r32_p4_d6_e128_h4_m3_local_w4'")
        g = match.groupdict()
        common = {k: int(g[k]) for k in ("resolution", "patch", "depth", "dim", "heads", "mlp_ratio")}
        if g["dense"]:
            return cls(**common, attention="dense")
        if g["local_w"]:
            return cls(**common, attention="local", window=int(g["local_w"]))
        return cls(**common, attention="global", window=int(g["global_w"]), global_tokens=int(g["g"]))


# -- analytic cost -----------------------------------------------------------------


def _attention_spec(config: SparseVitConfig) -> LayerSpec:
    dim, heads, n = config.dim, config.heads, config.num_patches
    if config.attention == "dense":
        return costs.attention("attn_dense", dim, heads, n, n)
    window_tokens = config.window * config.window
    if config.attention == "local":
        return costs.attention("attn_local", dim, heads, n, window_tokens, window=window_tokens)
    g = config.global_tokens
    grid_part = costs.attention("attn_global", dim, heads, n, window_tokens + g, window=window_tokens)
    global_part = costs.attention("attn_global", dim, heads, g, n + g)
    return grid_part._replace(
        h_in=n + g, h_out=n + g,
        flops=grid_part.flops + global_part.flops,
        bytes_moved=grid_part.bytes_moved + global_part.bytes_moved,
    )


@lru_cache(maxsize=4096)
def _cached_layers(config: SparseVitConfig, in_chans: int, num_classes: int) -> tuple[LayerSpec, ...]:
    dim, n, g = config.dim, config.num_patches, config.global_tokens
    tokens = n + g
    hidden = dim * config.mlp_ratio
    embed = costs.conv(in_chans, dim, config.resolution, config.resolution, config.patch, config.patch,
                       bias=True, bn=False, padding=0)
    extra = (n + g) * dim  # positional embedding + global tokens, folded into the embedding spec
    embed = embed._replace(params=embed.params + extra,
                           bytes_moved=embed.bytes_moved + 2 * extra * costs.BYTES_PER_ELEMENT)
    block = (
        costs.norm(dim, tokens),
        costs.linear(dim, 3 * dim, tokens),
        _attention_spec(config),
        costs.linear(dim, dim, tokens),
        costs.elementwise("add", dim, tokens),
        costs.norm(dim, tokens),
        costs.linear(dim, hidden, tokens, "gelu", expansion=float(config.mlp_ratio)),
        costs.linear(hidden, dim, tokens),
        costs.elementwise("add", dim, tokens),
    )
    head = (costs.norm(dim, n), costs.global_pool(dim, n, 1), costs.linear(dim, num_classes, 1))
    return (embed, *block * config.depth, *head)


# -- the space --------------------------------------------------------------------------


def _check_choices(option: str, values: Any, lo: int, hi: int) -> tuple[int, ...]:
    if not isinstance(values, (tuple, list)) or not values or len(set(values)) != len(values):
        raise ConfigError(f"sparse_vit: option {option!r} must be a non-empty tuple of distinct ints, "
                          f"got {values!r}")
    for v in values:
        check_int("sparse_vit", option, v, lo, hi)
    return tuple(values)


class SparseVitSpace(SearchSpace):
    """ViT with searched depth, width, heads, MLP ratio, patch size and attention pattern."""

    name = "sparse_vit"
    description = "vision transformer with dense, local-window or local+global-token attention"
    config_cls: ClassVar[type[ArchConfig]] = SparseVitConfig

    def __init__(
        self,
        resolutions: tuple[int, ...] = (32,),
        patches: tuple[int, ...] = (2, 4),
        depths: tuple[int, ...] = tuple(range(2, 9)),
        dims: tuple[int, ...] = (64, 96, 128, 192),
        heads: tuple[int, ...] = (2, 4),
        mlp_ratios: tuple[int, ...] = (2, 3, 4),
        attentions: tuple[str, ...] = ATTENTION_KINDS,
        windows: tuple[int, ...] = (2, 4),
        global_tokens: tuple[int, ...] = (1, 2, 4),
    ) -> None:
        self.resolutions = _check_choices("resolutions", resolutions, 8, 2048)
        self.patches = _check_choices("patches", patches, 1, 64)
        self.depths = _check_choices("depths", depths, 1, 64)
        self.dims = _check_choices("dims", dims, 8, 4096)
        self.heads = _check_choices("heads", heads, 1, 64)
        self.mlp_ratios = _check_choices("mlp_ratios", mlp_ratios, 1, 8)
        if (not isinstance(attentions, (tuple, list)) or not attentions
                or len(set(attentions)) != len(attentions)):
            raise ConfigError("sparse_vit: option 'attentions' must be a non-empty tuple, got "
                              f"{attentions!r}")
        for kind in attentions:
            check_choice("sparse_vit", "attentions", kind, ATTENTION_KINDS)
        self.attentions = tuple(attentions)
        self.windows = _check_choices("windows", windows, 1, 1024)
        self.global_token_counts = _check_choices("global_tokens", global_tokens, 1, 64)
        # every combination must be valid so each Optuna name always has the same choices:
        # building the configs checks the cross-field rules (dim % heads, grid % window, ...)
        for _ in self._corner_configs():
            pass

    # -- enumeration helpers --------------------------------------------------------
    def _attention_variants(self) -> list[tuple[str, int, int]]:
        variants: list[tuple[str, int, int]] = []
        for kind in self.attentions:
            if kind == "dense":
                variants.append(("dense", 0, 0))
            elif kind == "local":
                variants += [("local", w, 0) for w in self.windows]
            else:
                variants += [("global", w, g) for w in self.windows for g in self.global_token_counts]
        return variants

    def _corner_configs(self, depth: int | None = None, dim: int | None = None, heads: int | None = None,
                        mlp_ratio: int | None = None):
        """Configs over every (resolution, patch, attention) with the other fields fixed."""
        dims_heads = [(dim, heads)] if dim is not None else list(itertools.product(self.dims, self.heads))
        for (d, h), r, p, (kind, w, g) in itertools.product(
            dims_heads, self.resolutions, self.patches, self._attention_variants()
        ):
            yield SparseVitConfig(depth=depth or self.depths[0], dim=d, heads=h,
                                  mlp_ratio=mlp_ratio or self.mlp_ratios[0], patch=p, attention=kind,
                                  window=w, global_tokens=g, resolution=r)

    # -- contract -------------------------------------------------------------------
    def encoding_names(self) -> tuple[str, ...]:
        return ("resolution", "patch", "depth", "dim", "heads", "mlp_ratio",
                *(f"attention={kind}" for kind in ATTENTION_KINDS), "window", "global_tokens")

    def encode(self, config: SparseVitConfig) -> tuple[float, ...]:
        c = self.check_config(config)
        return (float(c.resolution), float(c.patch), float(c.depth), float(c.dim), float(c.heads),
                float(c.mlp_ratio), *(float(c.attention == kind) for kind in ATTENTION_KINDS),
                float(c.window), float(c.global_tokens))

    def sample(self, trial: Any) -> SparseVitConfig:
        attention = trial.suggest_categorical("attention", self.attentions)
        window = trial.suggest_categorical("window", self.windows) if attention != "dense" else 0
        g = (trial.suggest_categorical("global_tokens", self.global_token_counts) if attention == "global"
             else 0)
        return SparseVitConfig(
            resolution=trial.suggest_categorical("resolution", self.resolutions),
            patch=trial.suggest_categorical("patch", self.patches),
            depth=trial.suggest_categorical("depth", self.depths),
            dim=trial.suggest_categorical("dim", self.dims),
            heads=trial.suggest_categorical("heads", self.heads),
            mlp_ratio=trial.suggest_categorical("mlp_ratio", self.mlp_ratios),
            attention=attention, window=window, global_tokens=g,
        )

    def build(self, config: ArchConfig, num_classes: int = 10, in_chans: int = 3,
              img_size: int | None = None) -> Any:
        config = self.check_config(config)
        if img_size is not None and img_size != config.resolution:
            raise ConfigError(f"sparse_vit: img_size {img_size} differs from the config's "
                              f"resolution {config.resolution}")
        from .models.sparse_vit_net import SparseVitNet

        return SparseVitNet(config, num_classes=num_classes, in_chans=in_chans)

    def layers(self, config: ArchConfig, input_shape: InputShape | None = None,
               num_classes: int = 10) -> list[LayerSpec]:
        config = self.check_config(config)
        in_chans = 3
        if input_shape is not None:
            in_chans, h, w = input_shape
            if h != config.resolution or w != config.resolution:
                raise ConfigError(f"sparse_vit: input {h}x{w} differs from the config's "
                                  f"resolution {config.resolution}")
        return list(_cached_layers(config, in_chans, num_classes))

    def size(self) -> int:
        return (len(self.resolutions) * len(self.patches) * len(self.depths) * len(self.dims)
                * len(self.heads) * len(self.mlp_ratios) * len(self._attention_variants()))

    def extremes(self) -> tuple[SparseVitConfig, SparseVitConfig]:
        # FLOPs grow with depth, dim and mlp_ratio and do not depend on heads, so only
        # resolution, patch and the attention variant need a search.
        small = min(self._corner_configs(min(self.depths), min(self.dims), min(self.heads),
                                         min(self.mlp_ratios)), key=lambda c: total_flops(self.layers(c)))
        large = max(self._corner_configs(max(self.depths), max(self.dims), max(self.heads),
                                         max(self.mlp_ratios)), key=lambda c: total_flops(self.layers(c)))
        return small, large
