"""The shipped profiles: published measurements of 8 devices over nb201 and fbnet."""

from __future__ import annotations

import filecmp

import pytest

from hwprofiles.published import PUBLISHED_DEVICES, build_published_profiles
from hwprofiles.store import SHIPPED_DIR, list_profiles, open_profile


def test_every_published_device_ships_with_both_spaces():
    assert set(PUBLISHED_DEVICES) <= set(list_profiles())
    for name in PUBLISHED_DEVICES:
        profile = open_profile(name, check_arch=False)
        assert profile.spaces == ("fbnet", "nb201")
        assert len(profile.select(space="fbnet")) == 5000
        assert profile.device.provenance["nb201"]["source"]
        assert "twin cells" in profile.device.provenance["nb201"]["noise_floor"]


def test_the_noise_floor_of_published_data_is_the_spread_between_twin_cells():
    """Twins are one computation timed twice; the floor is never invented, it is measured from them."""
    from hwprofiles.measure import noise_floor_pct
    from hwprofiles.published import twin_latencies

    floors = {}
    for name in ("pixel3", "titan_rtx_32"):
        profile = open_profile(name, check_arch=False)
        first, again = twin_latencies(profile.select(space="nb201"))
        assert len(first) > 1000 and first.keys() == again.keys()
        floors[name] = noise_floor_pct(first, again)[0]
        assert profile.device.noise_floor_pct == round(floors[name], 2)
    assert floors["pixel3"] > 5 * floors["titan_rtx_32"]  # one phone timing vs a batch-32 GPU mean


def test_a_shipped_profile_validates_every_arch_string():
    profile = open_profile("raspi4")  # full validation: every arch_str parses in its space
    dropped = profile.device.provenance["nb201"]["dropped"]
    assert dropped > 0  # the < 0.1 ms quirk rows are left out and counted
    assert len(profile.select(space="nb201")) == 15625 - dropped
    assert profile.device.batch == 1 and open_profile("titan_rtx_32", check_arch=False).device.batch == 32


def test_shipped_profiles_rebuild_identically_from_shared_data(shared_data, tmp_path):
    build_published_profiles(shared_data, tmp_path)
    for name in PUBLISHED_DEVICES:
        for filename in ("device.json", "measurements.csv"):
            assert filecmp.cmp(tmp_path / name / filename, SHIPPED_DIR / name / filename, shallow=False), (
                name, filename)


@pytest.mark.parametrize("name", ["gold_6226"])
def test_devices_command_lists_shipped_and_user_profiles(name, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "SEARCH_PROFILES_DIR": str(tmp_path), "SEARCH_CACHE_DIR": str(tmp_path / "cache")}
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-m", "search", "devices"], cwd=root, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["device", "spaces", "measured"]
    row = next(line for line in lines if line.startswith(name))
    assert "fbnet,nb201" in row and "20625" in row and "shipped" in row
    assert "devices --accuracy" in lines[-1]  # nothing cached in a fresh cache dir: says how to compute
