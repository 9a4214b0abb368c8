"""On the local device the driver times each candidate before training it: the budget is kept on
measurements, and the timings teach the predictor the region the search explores."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hwprofiles.profile import load_profile, save_profile
from search.cli.main import main
from search.loop.driver import run_search
from search.study.settings import RunSettings
from search.study.storage import load_study

from ..tiny import TINY

#: the tiny space at two resolutions; with the fake timing (tests/fake_timing.py, the ``local_device``
#: fixture's) a 64 px model takes 16 times what it takes at 16 px beyond the fixed cost, every time
TWO_SIZES = {"mobile_cnn": {**TINY["mobile_cnn"], "resolutions": (16, 64)}}


def _settings(tmp_path, **kw) -> RunSettings:
    base = dict(space_options=TWO_SIZES, trials=3, epochs=1, halving_rate=None, generation=3, population=3,
                workers=1, batch_size=64, runs_dir=str(tmp_path / "runs"), profile_count=12)
    return RunSettings(**{**base, **kw})


def _make_stale(folder, factor: float) -> float:
    """Rewrite the local profile as if this host had been ``factor`` times faster when profiled;
    return the median latency it really measured."""
    profile = load_profile(folder)
    real = float(np.median([m.latency_ms for m in profile.measurements]))
    rows = [m._replace(latency_ms=m.latency_ms * factor, p50_ms=m.p50_ms * factor)
            for m in profile.measurements]
    save_profile(dataclasses.replace(profile, measurements=tuple(rows)), folder)
    return real


def test_a_stale_profile_lets_slow_candidates_through_and_timing_stops_them(local_device, tmp_path, capsys):
    """The profile says this host is five times as fast as it is, so 64 px candidates are predicted within a
    budget that only 16 px ones meet (the bound at 50% coverage is the median residual, which the first real
    timings, five times the profile's, do not blow up). Timed before training, those are rejected untrained;
    every trained candidate meets the budget as measured; the timings join the profile and the screen is
    refitted on them."""
    folder = local_device / "local"
    budget = 1.3 * _make_stale(folder, 0.2)
    rows_before = load_profile(folder).measurements
    settings = _settings(tmp_path, latency_ms=budget, study="timed", coverage=0.5)
    outcome = run_search(settings)
    trials = load_study("timed", None, settings.runs_dir).study.get_trials()

    measured_out = [t for t in trials
                    if t.user_attrs["status"] == "infeasible" and "measured_p50_ms" in t.user_attrs]
    assert measured_out and outcome.timed and outcome.measured_out == len(measured_out)
    for t in measured_out:
        a = t.user_attrs
        assert a["predicted_upper_ms"] <= budget < a["measured_p50_ms"]
        assert "measured p50" in a["reason"] and "not trained" in a["reason"]
        assert "train_seconds" not in a and t.constraints["latency_upper_minus_budget_ms"] > 0
    trained = [t for t in trials if "train_seconds" in t.user_attrs]
    assert len(trained) == 3 and all(t.user_attrs["measured_p50_ms"] <= budget for t in trained)

    timed = {t.user_attrs["arch_str"]: t.user_attrs["measured_p50_ms"] for t in trials
             if "measured_p50_ms" in t.user_attrs}
    new_rows = load_profile(folder).measurements[len(rows_before):]
    assert {m.arch_str: m.latency_ms for m in new_rows} == timed
    assert all(m.input_shape.startswith("1x") for m in new_rows)  # digits: the models as they are trained
    # screened trials (a repeated architecture is recognised before screening and records no versions)
    versions = [t.user_attrs["versions"]["profile"] for t in trials if "versions" in t.user_attrs]
    assert versions[0] != versions[-1]  # proposals after the first timings came from the refitted screen
    # the Pareto front shows each model's timing beside its prediction
    assert main(["top", "--study", "timed", "--runs-dir", settings.runs_dir, "--json"]) == 0
    front = json.loads(capsys.readouterr().out)
    assert front and all(0 < r["measured_p50_ms"] <= budget for r in front)
    assert main(["top", "--study", "timed", "--runs-dir", settings.runs_dir]) == 0
    assert "timed ms" in capsys.readouterr().out


def test_ctrl_c_while_timing_loses_nothing(local_device, tmp_path, monkeypatch):
    """Interrupted between proposal and timing, the candidates are adopted by the re-run as the prediction
    screened them (their constraint set then), and the study ends with exactly --trials evaluated."""
    from search.screening.candidate_timing import CandidateTimer

    settings = _settings(tmp_path, trials=2, generation=2, population=2, study="ctrl-c", space_options=TINY)
    real = CandidateTimer.measure

    def interrupted(self, cands):
        raise KeyboardInterrupt

    monkeypatch.setattr(CandidateTimer, "measure", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_search(settings)
    left = [t for t in load_study("ctrl-c", None, settings.runs_dir).study.get_trials()
            if t.user_attrs.get("status") == "training"]
    assert left and all(not t.constraints for t in left)
    monkeypatch.setattr(CandidateTimer, "measure", real)
    outcome = run_search(settings)
    trials = load_study("ctrl-c", None, settings.runs_dir).study.get_trials()
    assert outcome.evaluated == 2
    for t in left:
        again = trials[t.number]
        assert again.user_attrs["status"] in ("complete", "pruned", "failed") and again.params == t.params
        assert again.constraints["latency_upper_minus_budget_ms"] == pytest.approx(
            again.user_attrs["predicted_upper_ms"] - again.user_attrs["budget_ms"])


def test_timing_a_candidate_leaves_the_driver_torch_state_as_it_found_it(local_device, tmp_path):
    """The driver times candidates in its own process: the export inside must not reseed torch's global
    generator or change its thread count (a user's script around run_search keeps its random stream)."""
    import torch

    from hwprofiles.sampling import plan_architectures
    from search.screening.candidate_timing import CandidateTimer
    from search.study.candidates import Candidate
    from spaces import create_space

    space = create_space("mobile_cnn", **TWO_SIZES["mobile_cnn"])
    profile = load_profile(local_device / "local")
    known = {m.arch_str for m in profile.measurements}
    config = next(c for c in plan_architectures(space, 100, seed=7) if c.arch_str not in known)
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    threads = torch.get_num_threads()
    timer = CandidateTimer(profile, "fp32", 1, tmp_path / "timing")
    (ms,) = timer.measure([Candidate(space, config)])
    assert ms > 0 and len(timer.timed) == 1
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.rand(3), expected)
