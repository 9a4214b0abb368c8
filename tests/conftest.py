"""Shared fixtures: every test runs on one torch thread with Optuna quiet; a tiny measured ``local``
profile for the tests that search and train."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .required import unavailable

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _threads_per_worker() -> int:
    """pytest-xdist runs a test process per core: each gets its share of the cores, not all of them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // workers)


def pytest_configure(config):
    if getattr(config.option, "numprocesses", None) and "PYTEST_XDIST_WORKER" not in os.environ:
        return  # xdist's controller: the workers it starts size themselves
    # processes the tests start (drivers, profilers) read this; a value the user set is kept
    os.environ.setdefault("OMP_NUM_THREADS", str(_threads_per_worker()))
    # a predictor's folds in worker processes likewise: a share of the cores, not one worker per core each
    os.environ.setdefault("SEARCH_FIT_JOBS", str(_threads_per_worker()))


@pytest.fixture(scope="session", autouse=True)
def _quiet_and_single_threaded():
    import optuna
    from threadpoolctl import threadpool_limits

    # OpenMP and BLAS pools of this process (scikit-learn's boosting, numpy) were sized before the above
    threadpool_limits(int(os.environ["OMP_NUM_THREADS"]))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        unavailable(f"../shared/data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def _tiny_local_profile(tmp_path_factory):
    """Measures a ``local`` profile of 12 tiny models once per session, with the deterministic fake timing."""
    from hwprofiles.measure import ProfileRequest, profile_local
    from hwprofiles.timing import use_timing_backend

    from .fake_timing import FakeTiming
    from .tiny import QUICK, TINY

    root, cache = tmp_path_factory.mktemp("profiles"), tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp, use_timing_backend(FakeTiming()):
        mp.setenv("SEARCH_PROFILES_DIR", str(root))
        profile_local(ProfileRequest(device="local", spaces=("mobile_cnn",), count=12, precisions=("fp32",),
                                     protocol=QUICK, workers=2, space_options=TINY))
    return root, cache


@pytest.fixture
def fake_timing():
    """Everything this test times (profiling, candidates, finalized variants) takes ``FakeTiming``'s
    latency."""
    from hwprofiles.timing import use_timing_backend

    from .fake_timing import FakeTiming

    with use_timing_backend(FakeTiming()) as backend:
        yield backend


@pytest.fixture
def local_device(_tiny_local_profile, fake_timing, tmp_path, monkeypatch):
    """A copy of the tiny ``local`` profile for this test alone (searches append their timings to it),
    made visible by env; the predictor cache is shared (keyed by the rows). Timing is the fake's."""
    root, cache = _tiny_local_profile
    mine = tmp_path / "local-profiles"
    shutil.copytree(root / "local", mine / "local")
    monkeypatch.setenv("SEARCH_PROFILES_DIR", str(mine))
    monkeypatch.setenv("SEARCH_CACHE_DIR", str(cache))
    return mine
