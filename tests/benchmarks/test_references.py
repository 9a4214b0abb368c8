"""The noise references that say how close a predictor of the architecture can come on published data."""

from __future__ import annotations

import numpy as np

from benchmarks.predictor_accuracy import burst_reference, neighbour_drift, steady_split
from hwprofiles.profile import load_profile
from hwprofiles.store import SHIPPED_DIR
from predictors import rows_to_data
from spaces import create_space


def _titan_fbnet():
    profile = load_profile(SHIPPED_DIR / "titan_rtx_1", check_arch=False)
    return rows_to_data(profile.select(space="fbnet", precision="fp32"), create_space("fbnet"), "fp32")


def test_a_planted_slow_stretch_lowers_the_burst_ceiling_by_its_size():
    """FBNet on titan_rtx_1 as published has no bursts; 100 consecutive rows timed 30% slow are found."""
    data = _titan_fbnet()
    clean = burst_reference(data.X, data.latency_ms)
    assert clean["ceiling_within10"] > 0.995
    slowed = data.latency_ms.copy()
    slowed[2000:2100] *= 1.3  # 2% of the 5,000 rows
    planted = burst_reference(data.X, slowed)
    assert planted["rows_in_bursts"] > planted["rows_in_bursts_by_chance"] + 0.015
    assert 0.975 < planted["ceiling_within10"] < clean["ceiling_within10"] - 0.015
    # the lookup misses the stretch; scaled by the drift its neighbours ran at, it meets it again
    assert planted["robust_lookup_all_rows_within10"] < clean["robust_lookup_all_rows_within10"] - 0.015
    assert planted["with_neighbours_drift_within10"] > planted["robust_lookup_all_rows_within10"] + 0.015


def test_rows_timed_in_a_planted_slow_stretch_are_split_from_the_steady_ones():
    """The stretch's rows, not its edges' neighbours, leave the steady share; a predictor of the computation
    (here the measured latencies before slowing) meets every steady row and misses the stretch."""
    data = _titan_fbnet()
    slowed = data.latency_ms.copy()
    slowed[2000:2100] *= 1.3
    _, drift = neighbour_drift(data.X, slowed)
    split = steady_split(data.latency_ms, slowed, drift)
    assert 0.97 < split["steady_share"] < 0.985  # 100 of 5,000 rows, give or take the edges and GPU noise
    assert split["predictor_within10_steady"] == 1.0 and split["predictor_within10_rest"] < 0.3  # 0.22
    assert steady_split(data.latency_ms, data.latency_ms,
                        np.ones(len(slowed)))["predictor_within10_rest"] is None
