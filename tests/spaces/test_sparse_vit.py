"""Space-specific tests of sparse_vit: config rules, cost scaling, windowing correctness."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from spaces import ConfigError, create_space, total_flops
from spaces.models.sparse_vit_net import SparseAttention
from spaces.sparse_vit import SparseVitConfig, SparseVitSpace

BASE = dict(depth=2, dim=64, heads=2, mlp_ratio=2, patch=4)


@pytest.fixture(scope="module")
def space():
    return create_space("sparse_vit")


def _attn_flops(space, config):
    return sum(s.flops for s in space.layers(config) if s.kind.startswith("attn_"))


# -- config -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"depth": 0}, "depth"),
        ({"depth": True}, "depth"),
        ({"dim": 66, "heads": 4}, "dim"),
        ({"heads": 0}, "heads"),
        ({"mlp_ratio": 2.5}, "mlp_ratio"),
        ({"patch": 3}, "patch"),
        ({"resolution": 4}, "resolution"),
        ({"attention": "sparse"}, "attention"),
        ({"window": 2}, "window"),  # dense attention takes no window
        ({"attention": "local"}, "window"),  # local needs one
        ({"attention": "local", "window": 3}, "window"),  # 3 does not divide grid 8
        ({"attention": "local", "window": 16}, "window"),  # larger than the grid
        ({"attention": "local", "window": 2, "global_tokens": 1}, "global_tokens"),
        ({"attention": "global", "window": 2}, "global_tokens"),
    ],
)
def test_config_errors_name_the_field(changes, field):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        SparseVitConfig(**{**BASE, **changes})


@pytest.mark.parametrize(
    "text",
    ["", "junk", "r32_p4_d2_e64_h2_m2", "r32_p4_d2_e64_h2_m2_local", "r32_p4_d2_e64_h2_m2_dense_w2",
     "r32_p4_d2_e64_h2_m2_global_w2", "r032_p4_d2_e64_h2_m2_dense", "r32_p4_d2_e64_h2_m2_dense ",
     "R32_p4_d2_e64_h2_m2_dense", "r32_p4_d2_e64_h2_m2_local_w3"],
)
def test_from_str_rejects_junk(text):
    with pytest.raises(ConfigError):
        SparseVitConfig.from_str(text)


def test_from_str_error_shows_the_format():
    with pytest.raises(ConfigError, match="expected r<res>"):
        SparseVitConfig.from_str("r32_whatever")


@pytest.mark.parametrize("text", ["r32_p4_d6_e128_h4_m3_dense", "r32_p2_d2_e64_h2_m2_local_w4",
                                  "r64_p4_d3_e96_h4_m4_global_w2_g4"])
def test_arch_str_round_trip(text):
    config = SparseVitConfig.from_str(text)
    assert config.arch_str == text
    assert SparseVitConfig.from_json(config.to_json()) == config


def test_space_options_are_validated():
    with pytest.raises(ConfigError, match="window"):
        SparseVitSpace(windows=(3,))
    with pytest.raises(ConfigError, match="dim"):
        SparseVitSpace(dims=(64, 96), heads=(64,))
    with pytest.raises(ConfigError, match="depths"):
        SparseVitSpace(depths=())
    with pytest.raises(ConfigError, match="attentions"):
        SparseVitSpace(attentions=("dense", "sparse"))


def test_size_counts_every_distinct_config():
    space = SparseVitSpace(patches=(4,), depths=(2, 3), dims=(64,), heads=(2, 4), mlp_ratios=(2,),
                           windows=(2, 4), global_tokens=(1, 2))
    attention = [("dense", 0, 0)] + [("local", w, 0) for w in (2, 4)] + [
        ("global", w, g) for w in (2, 4) for g in (1, 2)]
    configs = {SparseVitConfig(depth=d, dim=64, heads=h, mlp_ratio=2, patch=4, attention=a, window=w,
                               global_tokens=g)
               for d, h, (a, w, g) in itertools.product((2, 3), (2, 4), attention)}
    assert space.size() == len(configs) == 28


def test_size_of_default_space(space):
    assert space.size() == 1 * 2 * 7 * 4 * 2 * 3 * (1 + 2 + 2 * 3)


def test_build_and_layers_check_the_resolution(space):
    config = SparseVitConfig(**BASE)
    with pytest.raises(ConfigError, match="resolution"):
        space.build(config, img_size=64)
    with pytest.raises(ConfigError, match="resolution"):
        space.layers(config, (3, 64, 64))


def test_local_attention_costs_less_than_dense(space):
    dense = SparseVitConfig(**{**BASE, "patch": 2})
    local = dataclasses.replace(dense, attention="local", window=4)
    assert _attn_flops(space, local) < _attn_flops(space, dense)
    assert total_flops(space.layers(local)) < total_flops(space.layers(dense))


@pytest.mark.parametrize("attention, window, g", [("local", 4, 0), ("global", 4, 2)])
def test_sparse_attention_scales_linearly_with_tokens(space, attention, window, g):
    def attn(resolution):
        return _attn_flops(space, SparseVitConfig(**BASE, attention=attention, window=window, global_tokens=g,
                                                  resolution=resolution))

    def dense(resolution):
        return _attn_flops(space, SparseVitConfig(**BASE, resolution=resolution))

    # 4x the tokens: local is exactly 4x; with G global tokens 4x up to O(G^2) terms; dense is 16x
    if g == 0:
        assert attn(64) == 4 * attn(32)
        assert attn(128) == 16 * attn(32)
    else:
        assert 3.9 < attn(64) / attn(32) < 4.1
        assert 3.9 < attn(128) / attn(64) < 4.1
    assert dense(64) == 16 * dense(32)


# -- windowing is exact: compare with a brute-force masked dense reference ----------


def _allowed_mask(grid: int, window: int, num_global: int) -> torch.Tensor:
    """(T, T) bool: may query i attend key j? Built token by token from grid coordinates."""
    n = grid * grid
    total = num_global + n
    mask = torch.zeros(total, total, dtype=torch.bool)
    mask[:num_global, :] = True  # global queries see everything
    for i in range(n):
        ri, ci = divmod(i, grid)
        mask[num_global + i, :num_global] = True  # every grid query sees the global tokens
        for j in range(n):
            rj, cj = divmod(j, grid)
            mask[num_global + i, num_global + j] = ((ri // window, ci // window)
                                                    == (rj // window, cj // window))
    return mask


def _masked_reference(attn: SparseAttention, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    B, T, C = x.shape
    q, k, v = attn.qkv(x).reshape(B, T, 3, attn.heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-2, -1)) * attn.head_dim ** -0.5
    scores = scores.masked_fill(~mask, float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
    return attn.proj(out)


@pytest.mark.parametrize(
    "kind, grid, window, num_global",
    [("local", 8, 2, 0), ("local", 8, 4, 0), ("local", 4, 4, 0), ("global", 8, 2, 1), ("global", 8, 4, 4),
     ("global", 16, 4, 2), ("dense", 4, 0, 0)],
)
def test_sparse_attention_equals_masked_dense(kind, grid, window, num_global):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    attn = SparseAttention(32, 4, kind, grid, window, num_global).eval()
    x = torch.randn(2, num_global + grid * grid, 32, generator=gen)
    if kind == "dense":
        mask = torch.ones(grid * grid, grid * grid, dtype=torch.bool)
    else:
        mask = _allowed_mask(grid, window, num_global)
    with torch.no_grad():
        got, expected = attn(x), _masked_reference(attn, x, mask)
    assert got.shape == x.shape
    assert (got - expected).abs().max() < 1e-5


def test_local_windows_do_not_see_each_other():
    torch.manual_seed(0)
    attn = SparseAttention(16, 2, "local", grid=4, window=2).eval()
    x = torch.randn(1, 16, 16)
    y = x.clone()
    y[:, 0] += 1.0  # token (0, 0) lives in window 0
    with torch.no_grad():
        diff = (attn(x) - attn(y)).abs().amax(-1)[0].reshape(4, 4)
    assert diff[:2, :2].min() > 0  # its own window changes
    assert diff[2:, :].max() == 0 and diff[:, 2:].max() == 0  # the other windows do not


def _far_window_change(config) -> float:
    """How much the tokens of the last window move when the first window's pixels change."""
    space = create_space("sparse_vit")
    torch.manual_seed(0)
    model = space.build(config).eval()
    x = torch.randn(1, 3, 32, 32)
    y = x.clone()
    y[..., :4, :4] += 1.0  # the first patch
    g, n = config.global_tokens, config.num_patches
    with torch.no_grad():
        fx, fy = model.forward_features(x)[:, g:], model.forward_features(y)[:, g:]
    return float((fx - fy).abs()[:, n - 1].max())


def test_global_tokens_carry_information_across_windows():
    local = SparseVitConfig(**BASE, attention="local", window=2)
    with_global = dataclasses.replace(local, attention="global", global_tokens=2)
    assert _far_window_change(local) == 0.0
    assert _far_window_change(with_global) > 1e-4


def test_global_tokens_change_the_output():
    space = create_space("sparse_vit")
    config = SparseVitConfig(**BASE, attention="global", window=4, global_tokens=2)
    torch.manual_seed(0)
    model = space.build(config).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
        # a random change: a constant shift of every channel would be undone by LayerNorm
        model.global_tokens.add_(torch.randn(model.global_tokens.shape,
                                             generator=torch.Generator().manual_seed(1)))
        after = model(x)
    assert (before - after).abs().max() > 1e-4
