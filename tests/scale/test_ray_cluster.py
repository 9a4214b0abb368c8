"""Studies on a real two-node Ray cluster joined with ``--ray-address`` (issue 7)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from search.loop.driver import run_search
from search.study.settings import RunSettings
from spaces import NasError

from ..search.test_driver import _trials, search_with_a_hung_job, search_with_a_worker_killed_once
from ..tiny import TINY

ROOT = Path(__file__).resolve().parents[2]


def _training(tmp_path, **kw) -> RunSettings:
    return RunSettings(space_options=TINY, trials=3, epochs=2, halving_rate=2.0, generation=3, population=4,
                       batch_size=64, runs_dir=str(tmp_path / "runs"), profile_count=12,
                       time_candidates=False, **kw)  # timings would grow the profile between the two runs


def test_a_cluster_trains_on_both_nodes_and_gives_the_same_study_as_one_process(local_device, tmp_path,
                                                                                 ray_cluster):
    one = _training(tmp_path / "one", workers=1)
    two = _training(tmp_path / "two", workers=2, ray_address=ray_cluster)
    run_search(one)
    outcome = run_search(two)
    a, b = _trials(one), _trials(two)
    assert [(t.params, t.values, t.state) for t in a] == [(t.params, t.values, t.state) for t in b]
    trained = [t for t in b if t.user_attrs["status"] != "infeasible"]
    assert outcome.evaluated == 3 == len(trained) and all(t.state != TrialState.RUNNING for t in b)
    # the trainings ran in the cluster's worker processes, two at a time on one CPU per node: both nodes
    assert str(os.getpid()) not in {t.user_attrs["worker"].split(":")[-1] for t in trained}
    assert len({t.user_attrs["ray_node"] for t in trained}) == 2


def test_a_worker_killed_on_the_cluster_is_retried_once(shared_data, tmp_path, ray_cluster):
    settings = RunSettings(device="pixel3", spaces=("nb201",), evaluator="tabular",
                           accuracy_table=str(shared_data / "nb201_accuracy.csv"), trials=4, generation=4,
                           population=8, workers=2, runs_dir=str(tmp_path / "runs"), predictor_rows=300,
                           latency_ms=20.0, ray_address=ray_cluster)
    trials = search_with_a_worker_killed_once(settings, shared_data, tmp_path)
    assert all(t.state == TrialState.COMPLETE for t in trials)


def test_a_job_that_never_returns_on_the_cluster_is_killed_retried_once_and_the_study_goes_on(
        shared_data, tmp_path, ray_cluster):
    # the limit counts from submission: a fresh worker's start and imports come out of it, so it is not tight
    settings = RunSettings(device="pixel3", spaces=("nb201",), evaluator="tabular",
                           accuracy_table=str(shared_data / "nb201_accuracy.csv"), trials=3, generation=3,
                           population=8, workers=2, runs_dir=str(tmp_path / "runs"), predictor_rows=300,
                           latency_ms=20.0, ray_address=ray_cluster, job_timeout_s=15.0)
    search_with_a_hung_job(settings, shared_data, tmp_path)


def test_an_unreachable_or_malformed_cluster_address_fails_at_once_writing_nothing(shared_data, tmp_path):
    for address, message in (("127.0.0.1:9", "cannot reach the Ray cluster"), ("nonsense", "HOST:PORT")):
        settings = RunSettings(device="pixel3", spaces=("nb201",), evaluator="tabular",
                               accuracy_table=str(shared_data / "nb201_accuracy.csv"), trials=2, workers=2,
                               runs_dir=str(tmp_path / "runs"), predictor_rows=300, latency_ms=20.0,
                               ray_address=address)
        with pytest.raises(NasError, match=message):
            run_search(settings)
        assert not (tmp_path / "runs").exists()


def test_sigterm_stops_a_run_on_the_cluster_as_ctrl_c_does(shared_data, tmp_path, ray_cluster):
    """``ray.init`` makes SIGTERM exit the driver at once; the run keeps the CLI's path instead: the message
    that nothing finished is lost, and exit 143."""
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "search", "run", "--device", "pixel3", "--space", "nb201", "--evaluator",
         "tabular", "--accuracy-table", str(shared_data / "nb201_accuracy.csv"), "--trials", "400",
         "--workers", "2", "--ray-address", ray_cluster, "--latency-ms", "20", "--predictor-rows", "300",
         "--runs-dir", str(runs)],
        cwd=ROOT, env={**os.environ, "RAY_AUTH_MODE": "disabled"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(1200):  # until the study holds a trial: Ray is up and the search runs
            if proc.poll() is not None or _study_has_trials(runs):
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err[-2000:]
    assert "interrupted: nothing finished is lost" in err


def _study_has_trials(runs) -> bool:
    for db in runs.glob("*/study.db"):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
                if con.execute("SELECT count(*) FROM trials").fetchone()[0]:
                    return True
        except sqlite3.Error:
            pass  # not created yet
    return False
