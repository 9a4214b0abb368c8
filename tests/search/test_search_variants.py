"""Searches the other tests do not run: the tpe, gp and random samplers, two spaces in one study, a budget in
int8, and the trials of a driver on another host adopted once its heartbeat has gone stale."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hwprofiles.profile import load_profile
from search.loop.driver import run_search
from search.study.candidates import sample_candidate
from search.study.coordination import DRIVER_GRACE_S, driver_tag, heartbeat_key, orphaned
from search.study.record import TrialRecord, TrialStatus
from search.study.settings import RunSettings
from search.study.storage import load_study, open_study
from spaces import create_space

from ..tiny import TINY


def _tabular(tmp_path: Path, shared_data: Path, **kw) -> RunSettings:
    base = dict(device="pixel3", spaces=("nb201",), evaluator="tabular",
                accuracy_table=str(shared_data / "nb201_accuracy.csv"), trials=8, generation=4, population=4,
                workers=1, runs_dir=str(tmp_path / "runs"), predictor_rows=300, latency_ms=20.0)
    return RunSettings(**{**base, **kw})


def _records(settings: RunSettings) -> list[TrialRecord]:
    study = load_study(settings.study_name(), None, settings.runs_dir).study
    return [TrialRecord.of(t) for t in study.get_trials()]


@pytest.mark.parametrize("sampler", ["tpe", "gp", "random"])
def test_every_sampler_searches_to_the_requested_trials_within_the_budget(sampler, shared_data, tmp_path):
    settings = _tabular(tmp_path, shared_data, sampler=sampler, study=sampler)
    outcome = run_search(settings)
    records = _records(settings)
    evaluated = [r for r in records if r.status is not None and r.status.evaluated]
    assert outcome.evaluated == len(evaluated) == settings.trials
    assert all(r.predicted_upper_ms <= settings.latency_ms for r in evaluated)  # the budget stays hard
    # the same seed gives the same study
    again = _tabular(tmp_path, shared_data, sampler=sampler, study=f"{sampler}-again")
    run_search(again)
    assert [r.arch_str for r in _records(again)] == [r.arch_str for r in records]


TINY_VIT = {"resolutions": (16,), "patches": (4,), "depths": (1, 2), "dims": (32,), "heads": (2,),
            "mlp_ratios": (2,), "windows": (2,), "global_tokens": (1,)}


def test_a_study_over_two_spaces_trains_both(local_device, tmp_path):
    """mobile_cnn and sparse_vit in one study: the local profile gains the second space on first use (with
    the options the search uses), every trial records its space."""
    settings = RunSettings(spaces=("mobile_cnn", "sparse_vit"),
                           space_options={**TINY, "sparse_vit": TINY_VIT}, trials=4, epochs=1,
                           halving_rate=None, generation=4, population=4, workers=1, batch_size=64,
                           runs_dir=str(tmp_path / "runs"), profile_count=5, time_candidates=False,
                           latency_ms=10.0, study="two")
    outcome = run_search(settings)
    records = [r for r in _records(settings) if r.status is not None and r.status.evaluated]
    assert outcome.evaluated == 4 and {r.space for r in records} == {"mobile_cnn", "sparse_vit"}
    for r in records:
        assert create_space(r.space).from_json(json.dumps(r.config)).arch_str == r.arch_str
    profile = load_profile(local_device / "local")
    assert set(profile.spaces) == {"mobile_cnn", "sparse_vit"}
    # profiled as searched: the tiny transformers, not the space's defaults
    assert all(m.arch_str.startswith("r16_p4_") for m in profile.select(space="sparse_vit"))


def test_an_int8_budget_screens_and_times_the_int8_models(local_device, fake_timing, tmp_path):
    """--precision int8: the local profile gains int8 rows on first use, candidates are timed as int8 files,
    and their timings join the int8 rows."""
    settings = RunSettings(precision="int8", space_options=TINY, trials=2, epochs=1, halving_rate=None,
                           generation=2, population=2, workers=1, batch_size=64,
                           runs_dir=str(tmp_path / "runs"),
                           profile_count=5, latency_ms=10.0, study="int8")
    outcome = run_search(settings)
    assert outcome.evaluated == 2 and outcome.timed
    profile = load_profile(local_device / "local")
    int8 = {m.arch_str: m.latency_ms for m in profile.measurements if m.precision == "int8"}
    assert len(int8) >= 5
    timed = [r for r in _records(settings) if r.measured_p50_ms is not None]
    assert timed and all(int8[r.arch_str] == r.measured_p50_ms for r in timed)
    assert any(path.endswith(".int8.onnx") for call in fake_timing.calls for path in call)
    assert load_study("int8", None, settings.runs_dir).settings["precision"] == "int8"


def test_a_dead_drivers_trial_on_another_host_is_adopted_once_its_heartbeat_is_stale(shared_data, tmp_path):
    settings = _tabular(tmp_path, shared_data, trials=4, study="adopt")
    handle = open_study(settings, settings.latency_ms)
    other = {"host": "another-host", "pid": 4242}
    trial = handle.study.ask()
    cand = sample_candidate(trial, {"nb201": create_space("nb201")})
    record = TrialRecord.live(trial)
    record.driver, record.space, record.arch_str, record.config = other, "nb201", cand.config.arch_str, \
        cand.config.to_dict()
    record.seed, record.predicted_upper_ms, record.flops, record.budget_ms = 7, 1.0, 1.0, settings.latency_ms
    record.set_status(TrialStatus.TRAINING)
    key = heartbeat_key(other)
    me = driver_tag()
    frozen = handle.study.get_trials()[0]
    handle.study.set_user_attr(key, time.time())
    assert not orphaned(frozen, handle.study.user_attrs, me)  # it beat just now: alive, leave it
    handle.study.set_user_attr(key, time.time() - DRIVER_GRACE_S - 1)
    assert orphaned(frozen, handle.study.user_attrs, me)

    run_search(settings)
    adopted = TrialRecord.of(load_study("adopt", None, settings.runs_dir).study.get_trials()[0])
    assert adopted.status is TrialStatus.COMPLETE and adopted.driver == me
    assert len([r for r in _records(settings) if r.status.evaluated]) == 4  # it counted towards --trials
