"""Low-rank factorization: exact on layers of low rank, leaves other layers alone, keeps models working."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from search.finalize.lowrank import factorize
from spaces import create_space

from ..tiny import TINY


def _low_rank_weight(out: int, inp: int, rank: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(out, rank, generator=g) @ torch.randn(rank, inp, generator=g)


def test_a_linear_layer_of_low_rank_is_reproduced_exactly():
    model = nn.Sequential(nn.Linear(96, 128))
    model[0].weight.data.copy_(_low_rank_weight(128, 96, 8))
    x = torch.randn(5, 96)
    before = model(x)
    done = factorize(model, keep=0.5)
    assert done.changed == 1 and isinstance(model[0], nn.Sequential)
    assert done.params_after < done.params_before
    torch.testing.assert_close(model(x), before, rtol=1e-4, atol=1e-4)


def test_a_strided_1x1_conv_keeps_its_stride_and_output():
    model = nn.Sequential(nn.Conv2d(64, 96, 1, stride=2, bias=True))
    model[0].weight.data.copy_(_low_rank_weight(96, 64, 6)[:, :, None, None])
    x = torch.randn(2, 64, 9, 9)
    before = model(x)
    assert factorize(model, keep=0.5).changed == 1
    after = model(x)
    assert after.shape == before.shape == (2, 96, 5, 5)
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


def test_other_layers_and_small_ones_are_left_alone():
    model = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.Conv2d(64, 64, 1, groups=4), nn.Linear(8, 8),
                          nn.Conv2d(64, 64, 1, padding=1))
    done = factorize(model, keep=0.5)
    assert done.changed == 0 and done.params_after == done.params_before


def test_bad_keep_is_refused():
    with pytest.raises(ValueError, match="keep"):
        factorize(nn.Linear(4, 4), keep=1.0)


@pytest.mark.parametrize("space_name", ["mobile_cnn", "sparse_vit"])
def test_a_search_space_model_still_runs_and_exports(space_name, tmp_path):
    space = create_space(space_name, **TINY.get(space_name, {}))
    config = space.extremes()[1]  # the largest: it has layers worth factorizing
    model = space.build(config, num_classes=10, in_chans=1).eval()
    x = torch.randn(2, 1, space.resolution(config), space.resolution(config))
    done = factorize(model, keep=0.5, min_params=1024)
    assert done.changed >= 1 and done.params_after < done.params_before
    assert model(x).shape == (2, 10)
    torch.onnx.export(model, (x,), str(tmp_path / "m.onnx"), dynamo=False)
    assert (tmp_path / "m.onnx").stat().st_size > 0
