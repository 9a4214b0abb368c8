"""The contract every registered space must pass (see spaces/base.py)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from spaces import ConfigError, create_space, list_spaces, total_flops
from spaces.export import export_onnx

from .support import calibrate_batchnorm, check_model, sample

SPACES = list_spaces()
SEEDS = range(6)
SLOW_SEEDS = range(6, 30)


@pytest.fixture(scope="module", params=SPACES)
def space(request):
    return create_space(request.param)


@pytest.mark.parametrize("seed", SEEDS)
def test_seeded_sampling_repeats_and_round_trips(space, seed):
    config, params = sample(space, seed)
    again, _ = sample(space, seed)
    assert again == config
    assert space.sample(optuna.trial.FixedTrial(params)) == config
    assert space.from_json(config.to_json()) == config
    assert space.parse(str(config)) == config
    assert isinstance(hash(config), int)  # frozen


@pytest.mark.parametrize("seed", SEEDS)
def test_layers_match_built_model(space, seed):
    config, _ = sample(space, seed)
    check_model(space, config)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_layers_match_built_model_many(space, seed):
    config, _ = sample(space, seed)
    check_model(space, config)


def test_extremes_bracket_samples(space):
    small, large = space.extremes()
    for config in (small, large):
        check_model(space, config, num_classes=7)
    flops = [total_flops(space.layers(sample(space, s)[0])) for s in SEEDS]
    assert total_flops(space.layers(small)) <= min(flops)
    assert total_flops(space.layers(large)) >= max(flops)


def test_json_rejects_unknown_keys(space):
    config, _ = sample(space, 0)
    data = config.to_dict()
    data["not_a_field"] = 1
    with pytest.raises(ConfigError, match="not_a_field"):
        space.config_cls.from_dict(data)


def test_size_is_positive(space):
    assert space.size() > 1


@pytest.mark.parametrize("seed", [0, 1])
def test_onnx_export_matches_torch(space, seed, tmp_path):
    import onnxruntime as ort

    config, _ = sample(space, seed)
    shape = space.input_shape(config)
    torch.manual_seed(seed)
    model = space.build(config, num_classes=10, in_chans=shape[0], img_size=shape[1])
    model = calibrate_batchnorm(model, shape, seed=seed)
    path = export_onnx(model, shape, tmp_path / "model.onnx")
    x = torch.randn(1, *shape)
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-4


def test_encoding_is_fixed_length_and_tells_configs_apart(space):
    names = space.encoding_names()
    assert len(set(names)) == len(names)
    configs = {sample(space, s)[0] for s in range(12)}
    codes = {space.encode(c) for c in configs}
    assert all(len(code) == len(names) for code in codes)
    assert len(codes) == len(configs)  # distinct architectures, distinct encodings
    small, large = space.extremes()
    assert space.encode(small) != space.encode(large)
