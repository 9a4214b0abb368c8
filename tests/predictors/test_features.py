from __future__ import annotations

import subprocess
import sys

import pytest

from predictors import FEATURE_NAMES, feature_matrix, layer_features
from spaces import LayerSpec, NasError, costs, create_space


def test_features_are_named_and_add_up():
    specs = [costs.conv(3, 16, 32, 32, 3, 2, activation="relu"), costs.conv(16, 16, 16, 16, 3, 1, groups=16),
             costs.global_pool(16, 16, 16), costs.linear(16, 10)]
    row = dict(zip(FEATURE_NAMES, layer_features(specs, "int8")))
    assert len(row) == len(FEATURE_NAMES)
    assert row["conv_count"] == 1 and row["dwconv_count"] == 1 and row["linear_count"] == 1
    assert row["total_flops"] == sum(s.flops for s in specs)
    assert row["total_params"] == sum(s.params for s in specs)
    assert row["depth"] == 3  # ops with weights
    assert row["input_size"] == 32
    assert row["int8"] == 1.0


def test_unknown_kind_and_precision_are_errors():
    bogus = LayerSpec("warp_drive", 1, 1, 1, 1, 1, 1)
    with pytest.raises(NasError, match="warp_drive"):
        layer_features([bogus])
    with pytest.raises(NasError, match="precision"):
        layer_features([], precision="fp8")


def test_feature_matrix_shape():
    space = create_space("mobile_cnn")
    small, large = space.extremes()
    matrix = feature_matrix([space.layers(small), space.layers(large)])
    assert matrix.shape == (2, len(FEATURE_NAMES))
    assert matrix[0, FEATURE_NAMES.index("total_flops")] < matrix[1, FEATURE_NAMES.index("total_flops")]


def test_predictors_and_layers_never_import_torch():
    code = ("import sys, predictors, spaces\n"
            "for n in spaces.list_spaces():\n"
            "    s = spaces.create_space(n); predictors.layer_features(s.layers(s.extremes()[1]))\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
