"""The noise references that say how close a predictor of the architecture can come on published data."""

from __future__ import annotations

from benchmarks.predictor_accuracy import burst_reference
from hwprofiles.profile import load_profile
from hwprofiles.store import SHIPPED_DIR
from predictors import rows_to_data
from spaces import create_space


def test_a_planted_slow_stretch_lowers_the_burst_ceiling_by_its_size():
    """FBNet on titan_rtx_1 as published has no bursts; 100 consecutive rows timed 30% slow are found."""
    profile = load_profile(SHIPPED_DIR / "titan_rtx_1", check_arch=False)
    data = rows_to_data(profile.select(space="fbnet", precision="fp32"), create_space("fbnet"), "fp32")
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
