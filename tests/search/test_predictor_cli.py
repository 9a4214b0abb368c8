"""``python -m search predictor eval`` and the unknown-device error, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwprofiles.kit import import_csv
from spaces import create_space

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEARCH_PROFILES_DIR": str(tmp_path / "profiles"),
           "SEARCH_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "search", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def _synthetic_nb201_profile(tmp_path: Path, n: int = 80) -> None:
    """A user profile whose latency follows the ops (convs cost, pools less) plus noise."""
    space = create_space("nb201")
    rng = np.random.default_rng(0)
    lines = ["arch_str,latency_ms"]
    for index in rng.choice(15625, n, replace=False):
        config = space.config_cls.from_index(int(index))
        cost = sum({"nor_conv_3x3": 3.0, "nor_conv_1x1": 1.0, "avg_pool_3x3": 0.4}.get(op, 0.1)
                   for op in config.edges)
        lines.append(f"{config.arch_str},{2.0 + cost * rng.uniform(0.97, 1.03):.4f}")
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n")
    import_csv(path, "box", "nb201", root=tmp_path / "profiles")


def test_predictor_eval_json_and_text(tmp_path):
    _synthetic_nb201_profile(tmp_path)
    result = _cli("predictor", "eval", "--device", "box", "--train-size", "60", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["n_train"] == 60 and metrics["n_test"] == 20
    for key in ("within5", "within10", "mape", "spearman", "kendall"):
        assert key in metrics["predictor"] and key in metrics["flops_baseline"]
    assert 0 <= metrics["predictor"]["upper_coverage"] <= 1
    assert metrics["predictor"]["within10"] >= metrics["flops_baseline"]["within10"]
    assert Path(metrics["plot"]).is_file()
    text = _cli("predictor", "eval", "--device", "box", "--train-size", "60", tmp_path=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "FLOPs-linear" in text.stdout and "noise floor" in text.stdout


@pytest.mark.slow  # fits a source predictor for each of the 8 shipped profiles (~1 min)
def test_predictor_eval_fewshot_uses_the_other_profiles(tmp_path):
    _synthetic_nb201_profile(tmp_path, n=40)
    result = _cli("predictor", "eval", "--device", "box", "--train-size", "20", "--prior", "auto", "--json",
                  tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["model_choice"].startswith("few-shot") and "gold_6226" in metrics["model_choice"]
    assert metrics["n_train"] == 20


def test_unknown_device_lists_profiles_and_commands(tmp_path):
    result = _cli("predictor", "eval", "--device", "jetson", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "no profile for device 'jetson'" in result.stderr and "raspi4" in result.stderr
    assert "python -m search profile --device jetson" in result.stderr
    assert "profile kit" in result.stderr


def test_predictor_eval_bad_inputs(tmp_path):
    _synthetic_nb201_profile(tmp_path, n=30)
    for args, needle in ((["--train-size", "1000"], "--train-size"),
                         (["--space", "fbnet"], "no measurements"), (["--precision", "int8"], "no int8")):
        result = _cli("predictor", "eval", "--device", "box", *args, tmp_path=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr and "Traceback" not in result.stderr
