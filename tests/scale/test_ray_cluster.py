"""Studies on a real two-node Ray cluster joined with ``--ray-address`` (issue 7)."""

from __future__ import annotations

from optuna.trial import TrialState

from search.driver import run_search
from search.study import RunSettings, load_study

from ..search.conftest import TINY
from ..search.test_driver import _DiesOnce


def _trials(settings: RunSettings):
    return load_study(settings.study_name(), settings.storage, settings.runs_dir).study.get_trials()


def test_trainings_run_on_both_nodes_of_a_cluster(local_device, tmp_path, ray_cluster):
    settings = RunSettings(space_options=TINY, trials=4, epochs=2, halving_rate=2.0, generation=4, population=4,
                           workers=2, batch_size=64, runs_dir=str(tmp_path / "runs"), ray_address=ray_cluster,
                           profile_count=12)
    outcome = run_search(settings)
    trials = [t for t in _trials(settings) if t.user_attrs["status"] != "infeasible"]
    assert outcome.evaluated == 4 == len(trials) and all(t.state != TrialState.RUNNING for t in trials)
    assert all(t.user_attrs["status"] in ("complete", "pruned") for t in trials)
    # two trainings at a time, one CPU per node: both nodes trained
    assert len({t.user_attrs["ray_node"] for t in trials}) == 2


def test_a_worker_killed_on_the_cluster_is_retried_once(shared_data, tmp_path, ray_cluster):
    settings = RunSettings(device="pixel3", spaces=("nb201",), evaluator="tabular",
                           accuracy_table=str(shared_data / "nb201_accuracy.csv"), trials=4, generation=4,
                           population=8, workers=2, runs_dir=str(tmp_path / "runs"), predictor_rows=300,
                           latency_ms=20.0, ray_address=ray_cluster)
    run_search(settings, evaluator=_DiesOnce(shared_data / "nb201_accuracy.csv", tmp_path / "died"))
    trials = _trials(settings)
    done = [t for t in trials if t.user_attrs["status"] == "complete"]
    assert len(done) == 4 and all(t.state == TrialState.COMPLETE for t in trials)
    retried = [t for t in trials if "retried" in t.user_attrs]
    assert len(retried) == 1 and retried[0].user_attrs["retried"].startswith("worker lost")
