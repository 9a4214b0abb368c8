"""The search driver end to end: real Optuna studies in SQLite, real trainings, real device profiles.

The training searches run on a tiny ``mobile_cnn`` (16 px, one block per stage)
against a ``local`` profile measured here once per session; the tabular ones
on the published Pixel 3 profile and the NAS-Bench-201 table from ../shared.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hwprofiles.profile import load_profile
from search.execution.evaluators import TabularEvaluator
from search.files import sha256_file
from search.loop.driver import run_search
from search.study.settings import RunSettings
from search.study.storage import load_study
from spaces import NasError

from ..tiny import TINY


def _training(tmp_path: Path, **kw) -> RunSettings:
    # candidate timing (the local device's default) has its own tests: these need not pay for it
    base = dict(space_options=TINY, trials=4, epochs=2, halving_rate=2.0, generation=2, population=4,
                workers=1, batch_size=64, runs_dir=str(tmp_path / "runs"), profile_count=12,
                time_candidates=False)
    base.update(kw)
    return RunSettings(**base)


def _tabular(tmp_path: Path, shared_data: Path, **kw) -> RunSettings:
    base = dict(device="pixel3", spaces=("nb201",), evaluator="tabular",
                accuracy_table=str(shared_data / "nb201_accuracy.csv"), trials=12, generation=4, population=8,
                workers=1, runs_dir=str(tmp_path / "runs"), predictor_rows=300, latency_ms=20.0)
    base.update(kw)
    return RunSettings(**base)


def _trials(settings: RunSettings) -> list[optuna.trial.FrozenTrial]:
    return load_study(settings.study_name(), settings.storage, settings.runs_dir).study.get_trials()


def _evaluated(trials) -> list:
    return [t for t in trials if t.user_attrs.get("status") in ("complete", "pruned", "failed")]


def test_training_search_records_every_trial_and_extends(local_device, tmp_path):
    settings = _training(tmp_path)
    rows_before = len(load_profile(local_device / "local").measurements)
    outcome = run_search(settings)
    trials = _trials(settings)
    # candidate timing off: screened on the prediction alone, and the profile is left as it was
    assert not outcome.timed and not any("measured_p50_ms" in t.user_attrs for t in trials)
    assert len(load_profile(local_device / "local").measurements) == rows_before
    assert outcome.evaluated == 4 == len(_evaluated(trials))
    assert all(t.state != TrialState.RUNNING for t in trials)
    for t in trials:
        a = t.user_attrs
        assert {"space", "config", "arch_str", "seed", "predicted_p50_ms", "predicted_upper_ms", "flops",
                "n_params", "budget_ms", "versions"} <= set(a)
        assert a["predicted_upper_ms"] >= a["predicted_p50_ms"] > 0
        assert t.constraints["latency_upper_minus_budget_ms"] == pytest.approx(
            a["predicted_upper_ms"] - a["budget_ms"])
        assert set(a["versions"]) == {"package", "optuna", "profile", "predictor", "screen"}
        assert a["versions"]["screen"].startswith("mobile_cnn full: ")  # no other profile to transfer from
        if a["status"] == "infeasible":  # rejected before training: the reason, no cost
            assert a["predicted_upper_ms"] > a["budget_ms"] and "not trained" in a["reason"]
            assert "train_seconds" not in a and "checkpoint" not in a
        else:
            assert a["predicted_upper_ms"] <= a["budget_ms"]
            assert a["train_seconds"] > 0 and 0 <= a["val_accuracy"] <= 1
            path = Path(settings.runs_dir) / settings.study_name() / a["checkpoint"]
            assert sha256_file(path) == a["checkpoint_sha256"]
    complete = [t for t in trials if t.user_attrs["status"] == "complete"]
    assert complete and all(t.user_attrs["epochs"] == 2 and t.values[0] == t.user_attrs["val_accuracy"]
                            for t in complete)
    assert 0 <= outcome.best["test_accuracy"] <= 1
    # the same command with more trials continues the study: the first four stay as they were
    run_search(_training(tmp_path, trials=6))
    again = _trials(settings)
    assert len(_evaluated(again)) == 6
    assert [(t.number, t.params, t.values) for t in again[:len(trials)]] == [(t.number, t.params, t.values)
                                                                             for t in trials]


def test_interrupted_search_resumes_without_losing_or_repeating(local_device, tmp_path):
    settings = _training(tmp_path, trials=5, generation=3)
    calls = []

    def interrupt_after_first(status):
        calls.append(status.evaluated)
        if status.evaluated >= 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_search(settings, interrupt_after_first)
    before = _trials(settings)
    left_running = [t.number for t in before if t.state == TrialState.RUNNING]
    assert left_running  # the interruption came mid-generation
    run_search(settings)
    after = _trials(settings)
    assert len(_evaluated(after)) == 5
    assert all(t.state != TrialState.RUNNING for t in after)
    for number in left_running:  # adopted and finished, not replaced
        assert after[number].user_attrs["status"] in ("complete", "pruned", "failed")
        assert after[number].params == before[number].params


def test_tabular_search_is_deterministic_and_keeps_the_budget_hard(shared_data, tmp_path):
    first = _tabular(tmp_path / "a", shared_data)
    second = _tabular(tmp_path / "b", shared_data)
    run_search(first)
    run_search(second)
    a, b = _trials(first), _trials(second)
    assert [(t.params, t.values, t.state) for t in a] == [(t.params, t.values, t.state) for t in b]
    complete = [t for t in a if t.user_attrs["status"] == "complete"]
    assert len(complete) == 12
    assert all(t.values[1] <= 20.0 and 0 < t.user_attrs["test_accuracy"] <= 1 for t in complete)
    assert any(t.user_attrs["status"] == "infeasible" for t in a)


def test_a_budget_no_architecture_meets_names_the_fastest(shared_data, tmp_path):
    with pytest.raises(NasError, match="smallest nb201 architecture is predicted at"):
        run_search(_tabular(tmp_path, shared_data, latency_ms=0.01))
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing written


def test_a_study_refuses_other_settings(shared_data, tmp_path):
    run_search(_tabular(tmp_path, shared_data, trials=2, study="mine"))
    with pytest.raises(NasError, match="other settings"):
        run_search(_tabular(tmp_path, shared_data, trials=2, study="mine", seed=1))


@pytest.mark.parametrize("kw, match", [
    (dict(spaces=("nope",)), "unknown space"), (dict(trials=0), "--trials"), (dict(sampler="cma"), "sampler"),
    (dict(latency_ms=-1.0), "--latency-ms"), (dict(evaluator="tabular"), "--space nb201"),
    (dict(spaces=("nb201",), evaluator="tabular"), "--accuracy-table"), (dict(study="../x"), "--study"),
    (dict(dataset="imagenet"), "unknown dataset"),
])
def test_bad_settings_are_one_clear_error(kw, match):
    with pytest.raises(NasError, match=match):
        RunSettings(**kw)


class _DiesOnce(TabularEvaluator):
    """Kills its own worker process the first time it runs (a real crash, not a mock)."""

    def __init__(self, table, marker):
        super().__init__(table)
        self.marker = str(marker)

    def evaluate(self, space, config, budget, seed):
        if not os.path.exists(self.marker):
            Path(self.marker).touch()
            os._exit(1)
        return super().evaluate(space, config, budget, seed)


def search_with_a_worker_killed_once(settings: RunSettings, shared_data: Path, tmp_path: Path) -> list:
    """Run ``settings`` while the first evaluation kills its worker; check the trial was retried once."""
    run_search(settings, evaluator=_DiesOnce(shared_data / "nb201_accuracy.csv", tmp_path / "died"))
    trials = _trials(settings)
    done = [t for t in trials if t.user_attrs["status"] == "complete"]
    assert len(done) == settings.trials and all(t.state == TrialState.COMPLETE for t in done)
    retried = [t for t in trials if "retried" in t.user_attrs]
    assert len(retried) == 1 and retried[0].user_attrs["retried"].startswith("worker lost")
    return trials


class _HangsOnOneArchitecture(TabularEvaluator):
    """Sleeps forever on the first architecture it is given, each time it is given it: a hung training (in a
    thread of the driver, or in a Ray worker)."""

    def __init__(self, table, marker):
        super().__init__(table)
        self.marker = str(marker)

    def evaluate(self, space, config, budget, seed):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, config.arch_str.encode())
            os.close(fd)
        except FileExistsError:
            pass
        while Path(self.marker).read_text() == config.arch_str:
            time.sleep(3600)
        return super().evaluate(space, config, budget, seed)


def search_with_a_hung_job(settings: RunSettings, shared_data: Path, tmp_path: Path) -> list:
    """Run ``settings`` while one architecture's jobs never return: that trial fails after one retry, the
    others complete, and the study ends with ``settings.trials`` evaluated."""
    outcome = run_search(settings, evaluator=_HangsOnOneArchitecture(shared_data / "nb201_accuracy.csv",
                                                                     tmp_path / "hung"))
    trials = _trials(settings)
    failed = [t for t in trials if t.user_attrs.get("status") == "failed"]
    assert outcome.evaluated == settings.trials == len(_evaluated(trials))
    assert len(failed) == 1 and failed[0].user_attrs["reason"].startswith("timed out after"), [
        t.user_attrs.get("reason") for t in failed]
    assert failed[0].user_attrs["retried"].startswith("timed out after")
    assert failed[0].user_attrs["arch_str"] == (tmp_path / "hung").read_text()
    return trials


def test_a_job_that_never_returns_is_timed_out_retried_once_and_the_study_goes_on(shared_data, tmp_path):
    search_with_a_hung_job(_tabular(tmp_path, shared_data, trials=3, generation=3, job_timeout_s=1.0),
                           shared_data, tmp_path)


@pytest.mark.slow
def test_a_killed_ray_worker_fails_the_attempt_and_the_trial_is_retried_once(shared_data, tmp_path):
    search_with_a_worker_killed_once(_tabular(tmp_path, shared_data, trials=3, generation=3, workers=2),
                                     shared_data, tmp_path)


def test_a_second_driver_on_one_sqlite_study_fails_at_once(shared_data, tmp_path):
    import fcntl

    settings = _tabular(tmp_path, shared_data, trials=2, study="busy")
    run_search(settings)
    lock = tmp_path / "runs" / "busy" / "driver.lock"
    with open(lock, "a+") as fh:  # another driver holds the study
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = len(_trials(settings))
        with pytest.raises(NasError, match="another driver"):
            run_search(_tabular(tmp_path, shared_data, trials=4, study="busy"))
        assert len(_trials(settings)) == before  # nothing was written
    run_search(_tabular(tmp_path, shared_data, trials=4, study="busy"))  # free again: it resumes
    assert len(_evaluated(_trials(settings))) == 4


def test_a_trial_another_driver_is_telling_counts_towards_the_trials():
    """Another driver writes a trial's status, then tells it: in between, it is running with an evaluated
    status. Counted as nothing, a second driver claimed one trial too many (25 of 24, seen on PostgreSQL)."""
    from search.loop.state import counts_towards_trials

    study = optuna.create_study(directions=["maximize", "minimize"])
    me, other = {"host": "h", "pid": 1}, {"host": "h", "pid": 2}

    def running(status, driver):
        trial = study.ask()
        trial.set_user_attr("status", status)
        trial.set_user_attr("driver", driver)
        return trial

    cases = {"training elsewhere": running("training", other), "told elsewhere": running("complete", other),
             "mine": running("training", me), "screening": running("infeasible", other)}
    told = running("complete", other)
    study.tell(told, [0.9, 1.0])
    frozen = {t.number: t for t in study.get_trials(deepcopy=False)}
    counted = {name: counts_towards_trials(frozen[t.number], me) for name, t in cases.items()}
    assert counted == {"training elsewhere": "elsewhere", "told elsewhere": "elsewhere", "mine": None,
                       "screening": None}
    assert counts_towards_trials(frozen[told.number], me) == "evaluated"


def _enqueue_a_repeat(settings: RunSettings) -> optuna.trial.FrozenTrial:
    """The sampler is made to propose the architecture of a complete trial again (as NSGA-II does)."""
    handle = load_study(settings.study_name(), settings.storage, settings.runs_dir)
    original = next(t for t in handle.study.get_trials() if t.user_attrs.get("status") == "complete")
    handle.study.enqueue_trial(original.params)
    return original


def test_an_architecture_is_evaluated_once_and_a_repeat_is_told_its_result(shared_data, tmp_path):
    settings = _tabular(tmp_path, shared_data, trials=3, generation=3)
    run_search(settings)
    original = _enqueue_a_repeat(settings)
    more = _tabular(tmp_path, shared_data, trials=5, generation=3)
    outcome = run_search(more)
    trials = _trials(more)
    repeats = [t for t in trials if t.user_attrs["status"] == "duplicate"]  # the enqueued one, maybe more
    repeat = next(t for t in repeats if t.params == original.params)
    assert repeat.user_attrs["repeats"] == original.number
    assert repeat.values == original.values and "test_accuracy" not in repeat.user_attrs  # not evaluated
    assert outcome.evaluated == 5 == len(_evaluated(trials))  # the repeat did not count
    evaluated = [t.user_attrs["arch_str"] for t in _evaluated(trials)]
    assert len(set(evaluated)) == len(evaluated)


def test_repeats_are_evaluated_when_asked(shared_data, tmp_path):
    settings = _tabular(tmp_path, shared_data, trials=3, generation=3)
    run_search(settings)
    original = _enqueue_a_repeat(settings)
    run_search(_tabular(tmp_path, shared_data, trials=4, generation=3, repeat_architectures=True))
    trials = _trials(settings)
    assert not any(t.user_attrs["status"] == "duplicate" for t in trials)
    assert [t.user_attrs["arch_str"] for t in _evaluated(trials)].count(original.user_attrs["arch_str"]) == 2
