"""Fixtures of the search tests: a real ``local`` device profile of tiny models."""

from __future__ import annotations

import pytest

from hwprofiles.measure import ProfileRequest, profile_local
from hwprofiles.runner import Protocol

#: a tiny mobile_cnn: 16 px, one block per stage, narrow
TINY = {"mobile_cnn": {"resolutions": (16,), "widths": (0.5, 0.75), "stems": (8,), "heads": (64, 128),
                       "depths": ((1,),) * 6}}
QUICK = Protocol(warmup_runs=1, min_runs=3, min_duration_s=0.0)


@pytest.fixture(scope="session")
def _tiny_local_profile(tmp_path_factory):
    """Measures a ``local`` profile of 12 tiny models (quick protocol) once per session."""
    root, cache = tmp_path_factory.mktemp("profiles"), tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEARCH_PROFILES_DIR", str(root))
        profile_local(ProfileRequest(device="local", spaces=("mobile_cnn",), count=12, precisions=("fp32",),
                                     protocol=QUICK, workers=2, space_options=TINY))
    return root, cache


@pytest.fixture
def local_device(_tiny_local_profile, monkeypatch):
    """The tiny ``local`` profile, visible to this test only (profiles and cache folders by env)."""
    root, cache = _tiny_local_profile
    monkeypatch.setenv("SEARCH_PROFILES_DIR", str(root))
    monkeypatch.setenv("SEARCH_CACHE_DIR", str(cache))
    return root
