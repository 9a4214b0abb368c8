"""The timing protocol: rounds, their interleaving, and the statistic they give."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from hwprofiles.errors import ProfileError
from hwprofiles.measure import open_or_create
from hwprofiles.onnx_timing import Protocol, latency_stats, time_callables
from hwprofiles.profile import DeviceInfo, Profile, load_profile, save_profile
from search.screening.local_profile import local_profile_request


def test_p50_is_the_quietest_rounds_median_and_the_tails_are_pooled():
    # round 2 fell into a neighbour's burst: its median must not move the p50
    stats = latency_stats([[1.0, 1.2, 1.1], [5.0, 5.0, 5.0], [1.3, 1.2, 1.4]])
    assert stats["p50_ms"] == stats["latency_ms"] == pytest.approx(1.1)
    assert stats["runs"] == 9 and stats["rounds"] == 3
    assert stats["p99_ms"] == pytest.approx(5.0)
    assert stats["mean_ms"] == pytest.approx(sum([1.0, 1.2, 1.1, 5.0, 5.0, 5.0, 1.3, 1.2, 1.4]) / 9)


def test_rounds_of_several_models_are_interleaved():
    calls: list[str] = []
    protocol = Protocol(warmup_runs=1, min_runs=6, min_duration_s=0.0, rounds=3)
    stats = time_callables([lambda: calls.append("a"), lambda: calls.append("b")], protocol)
    # round 1: one warm-up and two timed runs each; later rounds: one warm-up (at most 2) and two timed
    assert "".join(calls) == "aaabbb" + "aaabbb" + "aaabbb"
    assert [s["runs"] for s in stats] == [6, 6] and [s["rounds"] for s in stats] == [3, 3]


def test_a_round_share_splits_the_protocol():
    protocol = Protocol(warmup_runs=10, min_runs=50, min_duration_s=0.5, max_runs=10_000, rounds=5)
    assert protocol.round_share(first=True) == (10, 10, pytest.approx(0.1), 2000)
    assert protocol.round_share(first=False) == (2, 10, pytest.approx(0.1), 2000)
    with pytest.raises(ValueError):
        Protocol(rounds=0)


def test_a_stored_protocol_without_rounds_was_one_round():
    old = {"warmup_runs": 10, "min_runs": 50, "min_duration_s": 0.5, "max_runs": 10_000}
    assert Protocol.from_dict(old).rounds == 1
    assert Protocol.from_dict(asdict(Protocol())) == Protocol()


def test_a_profile_of_an_earlier_version_is_continued_with_its_own_protocol(tmp_path):
    # device.json as an earlier version wrote it: a one-round protocol without a ``rounds`` key
    old_timing = {"warmup_runs": 10, "min_runs": 50, "min_duration_s": 0.5, "max_runs": 10_000}
    device = DeviceInfo(name="local", runtime="onnxruntime", threads=1, batch=1, precisions=("fp32",),
                        protocol={"timing": old_timing, "statistic": "p50"})
    save_profile(Profile(device, (), tmp_path / "local"), tmp_path / "local")
    old = load_profile(tmp_path / "local")
    request = replace(local_profile_request(old, ("nb201",), "fp32", 3), root=tmp_path)
    assert request.protocol.rounds == 1
    assert open_or_create(request).device.name == "local"  # accepted: the same settings
    # an explicit request with the new default protocol is refused, not mixed in
    with pytest.raises(ProfileError, match="measured with"):
        open_or_create(replace(request, protocol=Protocol()))
    # with no profile yet, the current default protocol is used
    assert local_profile_request(None, ("nb201",), "fp32", 3).protocol == Protocol()
