"""Several drivers on one PostgreSQL study, for real (issue 7): nothing lost, duplicated or stuck."""

from __future__ import annotations

import collections
import subprocess
import sys

import optuna
from optuna.trial import TrialState

from search.cli.main import main


def _run_args(shared_data, runs, url, trials, *extra):
    return ["run", "--device", "pixel3", "--space", "nb201", "--evaluator", "tabular", "--accuracy-table",
            str(shared_data / "nb201_accuracy.csv"), "--trials", str(trials), "--generation", "4",
            "--population", "8", "--workers", "1", "--latency-ms", "20", "--predictor-rows", "300",
            "--runs-dir", str(runs), "--study", "shared", "--storage", url, "--no-finalize", *extra]


def test_two_drivers_on_one_study_finish_exactly_the_requested_trials(shared_data, tmp_path, postgres_url):
    args = [sys.executable, "-m", "search", *_run_args(shared_data, tmp_path / "runs", postgres_url, 24)]
    drivers = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outs = [d.communicate(timeout=300) for d in drivers]
    for d, (out, err) in zip(drivers, outs):
        assert d.returncode == 0, err[-2000:]
        assert "24 trials evaluated" in out
    trials = optuna.load_study(study_name="shared", storage=postgres_url).get_trials()
    status = collections.Counter(t.user_attrs.get("status") for t in trials)
    assert status["complete"] == 24 and set(status) <= {"complete", "infeasible", "duplicate"}, status
    assert all(t.state != TrialState.RUNNING for t in trials)  # none stuck running
    configs = [t.user_attrs["arch_str"] for t in trials if t.user_attrs["status"] == "complete"]
    assert len({t.number for t in trials}) == len(trials)
    assert len(configs) == 24 == len(set(configs))  # neither driver evaluated an architecture twice
    # the same command again resumes and finds nothing left to do
    assert main(_run_args(shared_data, tmp_path / "runs", postgres_url, 24)) == 0
    assert len(optuna.load_study(study_name="shared", storage=postgres_url).get_trials()) == len(trials)


def test_top_and_show_read_a_server_study(shared_data, tmp_path, postgres_url, capsys):
    assert main(_run_args(shared_data, tmp_path / "runs", postgres_url, 6)) == 0
    capsys.readouterr()
    assert main(["top", "--study", "shared", "--storage", postgres_url, "--json"]) == 0
    assert "predicted_upper_ms" in capsys.readouterr().out
    # other settings on the same server study are refused, and nothing is written
    before = len(optuna.load_study(study_name="shared", storage=postgres_url).get_trials())
    assert main(_run_args(shared_data, tmp_path / "runs", postgres_url, 8, "--seed", "3")) == 2
    assert "other settings" in capsys.readouterr().err
    assert len(optuna.load_study(study_name="shared", storage=postgres_url).get_trials()) == before


def test_an_unreachable_server_is_one_clear_error(shared_data, tmp_path, capsys):
    url = "postgresql://search:secret@127.0.0.1:9/nowhere"  # port 9 (discard): nothing listens
    assert main(_run_args(shared_data, tmp_path / "runs", url, 4)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open the study storage" in err
    assert "secret" not in err  # the password is never printed


def test_a_missing_database_driver_names_what_to_install(shared_data, tmp_path, capsys):
    assert main(_run_args(shared_data, tmp_path / "runs", "mysql+nosuchdriver://u@127.0.0.1/db", 4)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "storage" in err
