"""FBNet space specifics (the shared contract is in test_contract.py)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from spaces import ConfigError, create_space, total_flops
from spaces.fbnet import NUM_LAYERS, OPS, FBNetConfig

from .support import check_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def space():
    return create_space("fbnet")


def uniform(op: str) -> FBNetConfig:
    return FBNetConfig((op,) * NUM_LAYERS)


def test_every_published_arch_str_round_trips(space, shared_data):
    with open(shared_data / "fbnet_latency.csv", newline="") as f:
        arch_strs = [row["arch_str"] for row in csv.DictReader(f)]
    assert len(arch_strs) == 5000
    for text in arch_strs:
        assert space.parse(text).arch_str == text


def test_from_str_errors_name_the_position_and_valid_ops():
    text = "|".join(["k3_e1"] * 5 + ["k7_e1"] + ["skip"] * 16)
    with pytest.raises(ConfigError, match=r"layer 5 is 'k7_e1'.*valid ops: k3_e1, k3_e1_g2"):
        FBNetConfig.from_str(text)
    with pytest.raises(ConfigError, match="expected 22 layer choices.*got 21"):
        FBNetConfig.from_str("|".join(["skip"] * 21))
    with pytest.raises(ConfigError, match="layer 21 is ''"):
        FBNetConfig.from_str("|".join(["skip"] * 21) + "|")


def test_constructor_validates_choices():
    with pytest.raises(ConfigError, match=r"'choices\[3\]'.*got 'k9'"):
        FBNetConfig(("skip",) * 3 + ("k9",) + ("skip",) * 18)
    with pytest.raises(ConfigError, match="'choices' must hold 22"):
        FBNetConfig(("skip",) * 21)
    with pytest.raises(ConfigError, match="'choices' must be a tuple"):
        FBNetConfig("skip")
    assert FBNetConfig(["skip"] * 22) == uniform("skip")  # lists become tuples (hashable)


def test_json_keeps_a_tuple(space):
    config = uniform("k5_e6")
    again = space.from_json(config.to_json())
    assert again == config and isinstance(again.choices, tuple)
    assert '"choices":["k5_e6"' in config.to_json()


def test_sample_names_and_size(space):
    import optuna

    params = {f"layer_{i:02d}": OPS[i % len(OPS)] for i in range(NUM_LAYERS)}
    config = space.sample(optuna.trial.FixedTrial(params))
    assert config.choices == tuple(OPS[i % len(OPS)] for i in range(NUM_LAYERS))
    assert space.size() == 9**22


def test_g2_blocks_have_grouped_convs_and_a_shuffle(space):
    from torch import nn

    from spaces.models.fbnet_net import ChannelShuffle, InvertedResidual

    config = uniform("k3_e1_g2")
    specs = space.layers(config)
    assert sum(s.kind == "shuffle" for s in specs) == NUM_LAYERS
    assert sum(s.kind == "conv" and s.groups == 2 for s in specs) == 2 * NUM_LAYERS
    model = space.build(config)
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == NUM_LAYERS
    for block in blocks:
        assert isinstance(block.shuffle, ChannelShuffle)
        assert block.expand[0].groups == 2 and block.project[0].groups == 2
    assert not any(isinstance(m, ChannelShuffle) for m in space.build(uniform("k5_e6")).modules())
    depthwise = blocks[0].depthwise[0]
    assert isinstance(depthwise, nn.Conv2d) and depthwise.groups == depthwise.in_channels


def test_channel_shuffle_interleaves_groups():
    import torch

    from spaces.models.fbnet_net import ChannelShuffle

    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert ChannelShuffle(2)(x).flatten().tolist() == [0, 3, 1, 4, 2, 5]


def test_skip_is_identity_or_projection(space):
    specs = space.layers(uniform("skip"))
    # stem + 6 projecting skips (the first layer of stages 2-7) + head conv, pool, linear
    assert [s.kind for s in specs] == ["conv"] * 7 + ["conv", "gap", "linear"]
    assert [s.stride for s in specs[1:7]] == [1, 2, 2, 1, 2, 1]
    assert all(s.activation == "relu" and s.kernel == 1 for s in specs[1:7])


def test_inverted_residual_specs(space):
    choices = ("k5_e6",) + ("skip",) * (NUM_LAYERS - 1)
    block = space.layers(FBNetConfig(choices))[1:5]
    assert [s.kind for s in block] == ["conv", "dwconv", "conv", "add"]
    assert (block[0].c_out, block[1].kernel, block[2].activation) == (96, 5, "none")


def test_extremes_are_per_layer_optimal(space):
    small, large = space.extremes()
    small_flops, large_flops = total_flops(space.layers(small)), total_flops(space.layers(large))
    assert large == uniform("k5_e6")
    for i in range(NUM_LAYERS):
        for op in OPS:
            flops = total_flops(space.layers(FBNetConfig(small.choices[:i] + (op,) + small.choices[i + 1:])))
            assert flops >= small_flops
            flops = total_flops(space.layers(FBNetConfig(large.choices[:i] + (op,) + large.choices[i + 1:])))
            assert flops <= large_flops


@pytest.mark.parametrize("op", ["k3_e1_g2", "skip", "k3_e3"])
def test_uniform_archs_match_model(space, op):
    check_model(space, uniform(op))


def test_other_resolutions(space):
    import torch

    config = uniform("k3_e1")
    specs = space.layers(config, (1, 28, 28), num_classes=5)
    assert specs[-2].h_in == 4  # 28 -> 14 -> 7 -> 4
    model = space.build(config, num_classes=5, in_chans=1, img_size=28).eval()
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 5)
    with pytest.raises(ConfigError, match="input_shape"):
        space.layers(config, (3, 0, 32))


def test_module_does_not_import_torch():
    code = "import sys, spaces.fbnet, spaces.nb201; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
