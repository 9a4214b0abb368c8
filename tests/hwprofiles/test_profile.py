from __future__ import annotations

import json

import pytest

from hwprofiles.errors import DeviceNotFoundError, ProfileError
from hwprofiles.profile import (
    DeviceInfo,
    Measurement,
    Profile,
    append_measurements,
    load_profile,
    save_profile,
)
from hwprofiles.store import find_profile, list_profiles

NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def _profile(name="box", n=3):
    device = DeviceInfo(name=name, cpu="test cpu", cores=2, runtime="onnxruntime", threads=1,
                        protocol={"warmup_runs": 5}, noise_floor_pct=1.5)
    rows = tuple(Measurement("nb201", NB201_ARCH, "3x32x32", "fp32", 1, 1.0 + i, p50_ms=1.0 + i, runs=50)
                 for i in range(n))
    return Profile(device, rows)


@pytest.fixture
def user_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("SEARCH_PROFILES_DIR", str(tmp_path / "profiles"))
    return tmp_path / "profiles"


def test_round_trip_and_append(tmp_path):
    path = save_profile(_profile(), tmp_path / "box")
    loaded = load_profile(path)
    assert loaded.device == _profile().device
    assert loaded.measurements == _profile().measurements
    append_measurements(path, [Measurement("nb201", NB201_ARCH, "3x32x32", "int8", 1, 0.5, repeat=1)])
    again = load_profile(path)
    assert len(again.measurements) == 4
    assert len(again.select(precision="fp32")) == 3
    assert again.select(precision="int8") == []  # repeat rows are not first measurements
    assert len(again.select(precision="int8", repeat=None)) == 1


@pytest.mark.parametrize("bad, message", [
    ("nb201,{a},3x32x32,fp32,1,nan", "finite"),
    ("nb201,{a},3x32x32,fp32,1,-2.0", "negative"),
    ("nb201,{a},3x32x32,fp32,1,0", "positive"),
    ("nb201,{a},3x32x32,fp32,1,abc", "not a number"),
    ("warp,{a},3x32x32,fp32,1,1.0", "unknown space"),
    ("nb201,{a},3x32,fp32,1,1.0", "input_shape"),
    ("nb201,{a},3x32x32,fp16,1,1.0", "precision"),
    ("nb201,|bogus~0|,3x32x32,fp32,1,1.0", "arch_str"),
    ("nb201,{a},3x32x32,fp32,1", "number of fields"),
])
def test_malformed_rows_name_file_and_line(tmp_path, bad, message):
    path = save_profile(_profile(n=2), tmp_path / "box")
    good = f"nb201,{NB201_ARCH},3x32x32,fp32,1,1.5"
    lines = ["space,arch_str,input_shape,precision,batch,latency_ms", good, good, bad.format(a=NB201_ARCH)]
    (path / "measurements.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(path)
    assert "measurements.csv:4" in str(info.value)


def test_device_json_is_validated(tmp_path):
    path = save_profile(_profile(), tmp_path / "box")
    data = json.loads((path / "device.json").read_text())
    data["colour"] = "blue"
    (path / "device.json").write_text(json.dumps(data))
    with pytest.raises(ProfileError, match="colour"):
        load_profile(path)
    (path / "device.json").write_text("{not json")
    with pytest.raises(ProfileError, match="device.json:1"):
        load_profile(path)


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "x" * 65, 3])
def test_device_names_cannot_escape(name):
    with pytest.raises(ProfileError, match="invalid device name"):
        DeviceInfo(name=name)


def test_unknown_device_lists_profiles_and_how_to_create_one(user_profiles):
    save_profile(_profile("mybox"), user_profiles / "mybox")
    assert "mybox" in list_profiles()
    assert find_profile("mybox") == user_profiles / "mybox"
    with pytest.raises(DeviceNotFoundError) as info:
        find_profile("jetson")
    text = str(info.value)
    assert "mybox" in text
    assert "python -m search profile --device jetson" in text
    assert "profile kit --space S --count 20" in text and "profile import" in text
