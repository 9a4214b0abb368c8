"""Profiling this host and the remote-device kit, end to end on tiny models."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hwprofiles.errors import ProfileError
from hwprofiles.kit import import_csv, import_kit, make_kit
from hwprofiles.measure import ProfileRequest, noise_floor_pct, profile_local
from hwprofiles.onnx_timing import Protocol
from hwprofiles.profile import load_profile
from hwprofiles.sampling import BalancedTrial, plan_architectures
from spaces import NasError, create_space

QUICK = Protocol(warmup_runs=1, min_runs=3, min_duration_s=0.0)


def _request(tmp_path, **kw):
    base = dict(device="box", spaces=("nb201",), count=2, protocol=QUICK, workers=1, root=tmp_path)
    base.update(kw)
    return ProfileRequest(**base)


def test_balanced_plan_covers_every_choice_and_extremes():
    space = create_space("mobile_cnn")
    planned = plan_architectures(space, 24, seed=3)
    assert len({c.arch_str for c in planned}) == 24
    assert planned[:2] == list(space.extremes())
    kernels = [s.kernel for c in planned[2:] for s in c.stages[:1]]
    assert set(kernels) == {3, 5, 7}
    # balance: 24 draws over 3 kernels -> each kernel 8 times in the first stage of the draws
    draws = [space.sample(BalancedTrial(i, 24, 3)).stages[0].kernel for i in range(24)]
    assert {k: draws.count(k) for k in (3, 5, 7)} == {3: 8, 5: 8, 7: 8}


def test_profile_measures_resumes_and_refuses_other_settings(tmp_path):
    profile = profile_local(_request(tmp_path, count=2))
    first = [m for m in profile.measurements if m.repeat == 0]
    assert {m.precision for m in first} == {"fp32", "int8"} and len(first) == 4
    assert all(m.p50_ms > 0 and m.p99_ms >= m.p50_ms and m.runs >= 3 for m in first)
    assert all(m.model_bytes > 0 for m in first)
    assert profile.device.noise_floor_pct is not None
    assert not (tmp_path / "box" / "work").exists()  # exported files are cleaned up
    # re-running with a larger count measures only the new architecture
    again = profile_local(_request(tmp_path, count=3))
    assert len([m for m in again.measurements if m.repeat == 0]) == 6
    assert load_profile(tmp_path / "box").measurements == again.measurements
    with pytest.raises(ProfileError, match="measured with"):
        profile_local(_request(tmp_path, threads=2))


def test_noise_floor_is_p90_of_relative_spread():
    first = {(i,): 10.0 for i in range(10)}
    again = {(i,): 10.0 + 0.1 * i for i in range(10)}
    p90, median, pairs = noise_floor_pct(first, again)
    assert pairs == 10 and median == pytest.approx(4.5) and p90 == pytest.approx(8.1)


@pytest.mark.parametrize("kw, message", [
    (dict(count=0), "count"), (dict(spaces=("warp",)), "unknown space"),
    (dict(precisions=("fp16",)), "precision"), (dict(runtime="torch"), "int8"),
    (dict(device="../x"), "invalid device name"),
])
def test_bad_requests_are_user_errors(tmp_path, kw, message):
    with pytest.raises(NasError, match=message):
        _request(tmp_path, **kw)


def test_kit_round_trip_with_its_own_runner(tmp_path):
    kit = make_kit(("nb201",), 2, tmp_path / "kit", precisions=("fp32", "int8"), protocol=QUICK, workers=1)
    assert (kit / "run_kit.py").is_file() and len(list((kit / "models").glob("*.onnx"))) == 4
    # the runner is standalone: run it in a clean subprocess as the device would (no project on sys.path)
    result = subprocess.run([sys.executable, "-I", str(kit / "run_kit.py"), "--provider", "cpu",
                             "--threads", "1"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    profile = import_kit(kit, "remote", root=tmp_path / "profiles")
    assert len(profile.measurements) == 4
    assert profile.device.runtime == "onnxruntime-cpu"
    assert load_profile(tmp_path / "profiles" / "remote").measurements == profile.measurements
    # a second run skips everything already measured
    subprocess.run([sys.executable, "-I", str(kit / "run_kit.py")], check=True, timeout=300,
                   capture_output=True)
    assert len((kit / "results.csv").read_text().strip().splitlines()) == 5


def test_kit_import_rejects_tampered_results(tmp_path):
    kit = make_kit(("nb201",), 1, tmp_path / "kit", protocol=QUICK, workers=1)
    with pytest.raises(ProfileError, match="missing"):
        import_kit(kit, "remote", root=tmp_path)
    subprocess.run([sys.executable, "-I", str(kit / "run_kit.py")], check=True, timeout=300,
                   capture_output=True)
    lines = (kit / "results.csv").read_text().splitlines()
    lines[1] = lines[1].replace("models/", "models/evil-", 1)
    (kit / "results.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ProfileError, match="results.csv:2"):
        import_kit(kit, "remote", root=tmp_path)


def test_import_plain_csv(tmp_path):
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    good = tmp_path / "m.csv"
    good.write_text(f"arch_str,latency_ms,notes\n{arch},3.5,hello\n")
    profile = import_csv(good, "phone", "nb201", root=tmp_path / "profiles")
    assert profile.measurements[0].latency_ms == 3.5
    bad = tmp_path / "bad.csv"
    bad.write_text(f"arch_str,latency_ms\n{arch},3.5\n{arch},-1\n")
    with pytest.raises(ProfileError, match=r"bad.csv:3"):
        import_csv(bad, "phone2", "nb201", root=tmp_path / "profiles")
    assert not (tmp_path / "profiles" / "phone2").exists()  # nothing written on error
