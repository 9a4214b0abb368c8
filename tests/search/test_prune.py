"""Structured channel pruning: exact when the cut channels carry nothing, smaller models that still run."""

from __future__ import annotations

import pytest
import torch

from search.finalize.prune import prune_channels
from spaces import create_space

from ..tiny import TINY


def _model(space_name: str):
    space = create_space(space_name, **TINY.get(space_name, {}))
    config = space.extremes()[1]
    torch.manual_seed(0)
    model = space.build(config, num_classes=10, in_chans=1).eval()
    x = torch.randn(3, 1, space.resolution(config), space.resolution(config))
    return model, x


def _silence_half(model) -> int:
    """Zero every other hidden channel's output in each prunable block; returns the blocks touched."""
    touched = 0
    for m in model.modules():
        if type(m).__name__ == "InvertedResidual" and hasattr(m, "bn2"):
            hidden = m.bn2.num_features
            if hidden >= 16:
                m.bn2.weight.data[1::2] = 0
                m.bn2.bias.data[1::2] = 0
                touched += 1
        elif type(m).__name__ == "Mlp":
            m.fc1.weight.data[1::2] = 0
            m.fc1.bias.data[1::2] = 0
            touched += 1
    return touched


@pytest.mark.parametrize("space_name", ["mobile_cnn", "sparse_vit"])
def test_cutting_channels_that_carry_nothing_changes_nothing(space_name):
    model, x = _model(space_name)
    touched = _silence_half(model)
    assert touched >= 1
    before = model(x)
    done = prune_channels(model, keep=0.5)
    assert done.changed == touched and done.params_after < done.params_before
    torch.testing.assert_close(model(x), before, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("space_name", ["mobile_cnn", "sparse_vit"])
def test_a_pruned_model_trains_and_exports(space_name, tmp_path):
    model, x = _model(space_name)
    done = prune_channels(model, keep=0.5)
    assert done.changed >= 1
    model.train()
    loss = model(x).logsumexp(1).mean()
    loss.backward()  # the cut parameters are real leaves of the graph
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    torch.onnx.export(model, (x,), str(tmp_path / "m.onnx"), dynamo=False)
    assert (tmp_path / "m.onnx").stat().st_size > 0


@pytest.mark.parametrize("space_name", ["nb201", "fbnet"])
def test_spaces_without_prunable_blocks_are_left_alone(space_name):
    space = create_space(space_name)
    model = space.build(space.extremes()[0], num_classes=10, in_chans=3)
    done = prune_channels(model, keep=0.5)
    assert done.changed == 0 and done.params_after == done.params_before


def test_bad_keep_is_refused():
    with pytest.raises(ValueError, match="keep"):
        prune_channels(torch.nn.Linear(2, 2), keep=0)
