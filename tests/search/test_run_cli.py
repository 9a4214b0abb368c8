"""``run``, ``top``, ``show`` and ``export`` through the command line, on real studies."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from search.cli.main import main
from search.pixels import Normalization
from search.study.retrieve import find_trial, load_trained_model
from search.study.storage import load_study
from search.training.datasets import load_dataset
from search.training.trainer import model_pixels, prepare_images

from ..tiny import TINY


def _tabular_args(shared_data, runs, *extra):
    return ["run", "--device", "pixel3", "--space", "nb201", "--evaluator", "tabular", "--accuracy-table",
            str(shared_data / "nb201_accuracy.csv"), "--trials", "6", "--generation", "3",
            "--population", "6", "--workers", "1", "--latency-ms", "20", "--predictor-rows", "300",
            "--runs-dir", str(runs), "--study", "tab", *extra]


def test_run_then_top_and_show(shared_data, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(_tabular_args(shared_data, runs, "--no-finalize")) == 0
    out = capsys.readouterr().out
    assert "study tab: 6 trials evaluated" in out and "best within budget: trial" in out
    assert main(["top", "--study", "tab", "--runs-dir", str(runs), "--json"]) == 0
    front = json.loads(capsys.readouterr().out)
    assert front and all(r["predicted_upper_ms"] <= 20 for r in front)
    latencies = [r["predicted_upper_ms"] for r in front]
    accuracies = [r["val_accuracy"] for r in front]
    # a Pareto front, fastest first
    assert latencies == sorted(latencies) and accuracies == sorted(accuracies)
    limit = latencies[0]
    assert main(["top", "--study", "tab", "--runs-dir", str(runs), "--json",
                 "--max-latency-ms", str(limit)]) == 0
    assert all(r["predicted_upper_ms"] <= limit for r in json.loads(capsys.readouterr().out))
    assert main(["top", "--study", "tab", "--runs-dir", str(runs)]) == 0
    assert "Pareto front" in capsys.readouterr().out
    trial = front[0]["trial"]
    assert main(["show", "--study", "tab", "--runs-dir", str(runs), "--trial", str(trial), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "complete" and record["arch_str"] == front[0]["arch_str"]
    assert 0 < record["test_accuracy"] <= 1  # the table's test accuracy, reported beside the searched one
    assert main(["report", "--study", "tab", "--runs-dir", str(runs)]) == 0
    assert "Pareto front" in (runs / "tab" / "report" / "summary.md").read_text()  # more in test_report


def test_retrieval_errors_are_one_line(tmp_path, capsys):
    assert main(["top", "--study", "none", "--runs-dir", str(tmp_path)]) == 2
    assert "no study 'none'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # argparse refuses it, in one line
        main(["top", "--study", "x", "-k", "0", "--runs-dir", str(tmp_path)])
    assert exited.value.code == 2 and "-k: expected a positive integer" in capsys.readouterr().err
    assert main(["run", "--trials", "0"]) == 2
    assert "--trials must be a positive integer" in capsys.readouterr().err
    assert main(["run", "--space", "mobile_cnn,nope"]) == 2
    assert "unknown space 'nope'" in capsys.readouterr().err


def test_export_rebuilds_the_trained_model(local_device, tmp_path, capsys):
    from search.loop.driver import run_search
    from search.study.settings import RunSettings

    settings = RunSettings(space_options=TINY, trials=2, epochs=1, halving_rate=None, generation=2,
                           population=2, workers=1, batch_size=64, runs_dir=str(tmp_path / "runs"),
                           profile_count=12, study="e", time_candidates=False)  # timing has its own tests
    outcome = run_search(settings)
    trial = outcome.best["trial"]
    out = tmp_path / "model"
    assert main(["export", "--study", "e", "--runs-dir", str(tmp_path / "runs"), "--trial", str(trial),
                 "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"config.json", "trial.json", "weights.pt", "model.onnx"}
    config = json.loads((out / "config.json").read_text())
    assert config["arch_str"] == outcome.best["arch_str"]
    state = torch.load(out / "weights.pt", weights_only=True)
    assert state  # real trained weights, loadable without unpickling code
    # raw pixels in: the file standardises with the training split's statistics, as training did
    data = load_dataset("digits", seed=0)
    assert config["input"]["dtype"] == "uint8" and config["input"]["native_size"] == 8
    assert Normalization.from_dict(config["input"]["normalization"]) == data.normalization
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    pixels = model_pixels(data.val, 16, 1)[:1]
    x, _ = prepare_images(data.val, 16, 1, data.normalization)
    handle = load_study("e", None, tmp_path / "runs")
    _, model = load_trained_model(handle, find_trial(handle, trial))
    assert find_trial(handle, trial).user_attrs["normalization"] == data.normalization.to_dict()
    with torch.no_grad():
        expected = model(x[:1]).numpy()
    got = session.run(None, {session.get_inputs()[0].name: pixels})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    # a tampered checkpoint is refused
    checkpoint = tmp_path / "runs" / "e" / outcome.best["checkpoint"]
    checkpoint.write_bytes(checkpoint.read_bytes() + b"x")
    assert main(["export", "--study", "e", "--runs-dir", str(tmp_path / "runs"), "--trial", str(trial),
                 "--out", str(tmp_path / "again")]) == 2
    assert "does not match the sha256" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--workers", "--epochs", "--generation", "--job-timeout"])
def test_non_positive_counts_are_refused(flag, capsys):
    assert main(["run", flag, "0"]) == 2
    assert flag in capsys.readouterr().err
