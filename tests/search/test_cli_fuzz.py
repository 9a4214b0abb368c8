"""Bad input to every command but ``run`` (which test_run_fuzz covers), and malformed profiles:
one line on stderr, exit code 2, no traceback, and nothing written to the study or the profiles."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.cli.main import main

FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NUMBER_WORDS = ["x", "", "nan", "1.5", "-1", "0", "1e400", "-inf"]


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _one_line_error(argv, capsys) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals exit 2 by themselves
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("usage:")]  # argparse adds its usage
    assert len(lines) == 1, err
    return err


@pytest.fixture(scope="module")
def study(tmp_path_factory, shared_data):
    """A small real (tabular) study to point the commands at."""
    runs = tmp_path_factory.mktemp("fuzz") / "runs"
    assert main(["run", "--device", "pixel3", "--space", "nb201", "--evaluator", "tabular",
                 "--accuracy-table", str(shared_data / "nb201_accuracy.csv"), "--trials", "4",
                 "--generation", "2", "--population", "4", "--workers", "1", "--latency-ms", "20",
                 "--predictor-rows", "300", "--runs-dir", str(runs), "--study", "fz", "--no-finalize"]) == 0
    return runs


COMMAND_FLAGS = [
    (["top"], "-k", NUMBER_WORDS),
    (["top"], "--max-latency-ms", ["x", "nan", "-1", "0", "inf"]),
    (["show"], "--trial", ["x", "-1", "999999", "1.5"]),
    (["export", "--out", "OUT"], "--trial", ["x", "-1", "999999"]),
    (["finalize"], "--top", NUMBER_WORDS),
    (["finalize"], "--epochs", NUMBER_WORDS),
    (["finalize"], "--compress", ["", "zip", "distill,zip", ",,"]),
    (["finalize"], "--calibration", ["", "median", "MINMAX!"]),
    (["finalize"], "--qat", ["", "sometimes", "1"]),
    (["finalize"], "--calibration-images", NUMBER_WORDS),
    (["finalize"], "--teacher-resolution", NUMBER_WORDS),
    (["finalize"], "--teacher", ["", "timm:", "hub:resnet50", "timm:no_such_model_xyz"]),
    (["report", "--out", "OUT"], "--study", ["no-such-study", "../escape", ""]),
]


@settings(max_examples=40, **FUZZ)
@given(case=st.sampled_from(COMMAND_FLAGS), data=st.data())
def test_bad_flags_of_the_study_commands(study, tmp_path_factory, case, data, capsys):
    command, flag, values = case
    value = data.draw(st.sampled_from(values))
    out = str(tmp_path_factory.mktemp("out") / "o")
    before = _snapshot(study)
    argv = [c.replace("OUT", out) for c in command] + ["--runs-dir", str(study)]
    if flag != "--study":
        argv += ["--study", "fz"]
    _one_line_error([*argv, flag, value], capsys)
    assert _snapshot(study) == before  # nothing written to the study or beside it
    assert not Path(out).exists()


@settings(max_examples=30, **FUZZ)
@given(flag=st.sampled_from(["--count", "--threads", "--batch", "--workers"]),
       value=st.sampled_from(NUMBER_WORDS),
       action=st.sampled_from([[], ["kit", "--space", "nb201", "--out", "KIT"]]))
def test_bad_flags_of_profile(tmp_path_factory, monkeypatch, flag, value, action, capsys):
    if action and flag == "--threads":
        return  # the kit has no --threads
    root = tmp_path_factory.mktemp("prof")
    monkeypatch.setenv("SEARCH_PROFILES_DIR", str(root / "profiles"))
    argv = ["profile", *[a.replace("KIT", str(root / "kit")) for a in action]]
    if not action:
        argv += ["--device", "fuzzbox", "--space", "nb201"]
    _one_line_error([*argv, flag, value], capsys)
    assert not (root / "profiles").exists() or not any((root / "profiles").rglob("*.csv"))
    assert not (root / "kit").exists() or not any((root / "kit").iterdir())


@settings(max_examples=12, **FUZZ)
@given(flag=st.sampled_from(["--train-size", "--coverage"]), value=st.sampled_from(NUMBER_WORDS + ["2", "1"]))
def test_bad_flags_of_predictor_eval(tmp_path_factory, flag, value, capsys):
    if flag == "--train-size" and value == "2":
        value = "1"  # 2 rows is a (tiny) valid fit
    out = tmp_path_factory.mktemp("plot") / "p.png"
    _one_line_error(["predictor", "eval", "--device", "pixel3", "--space", "nb201", "--plot", str(out),
                     flag, value], capsys)
    assert not out.exists()


GOOD_ROW = ("nb201,|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
            "|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")


@settings(max_examples=10, **FUZZ)
@given(line=st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), min_size=1,
            max_size=80).filter(lambda s: s.strip()),
    st.sampled_from([f"{GOOD_ROW},3x32x32,fp32,1,{v}" for v in ("nan", "-1", "0", "inf", "1e", "")]),
    st.builds(lambda n: ",".join(["nb201"] * n), st.integers(0, 12))))
def test_a_malformed_profile_csv_is_one_clear_error(tmp_path_factory, monkeypatch, line, capsys):
    import shutil

    from hwprofiles.store import find_profile

    root = tmp_path_factory.mktemp("bad") / "profiles"
    shutil.copytree(find_profile("pixel3"), root / "badbox")
    csv = next((root / "badbox").glob("*.csv"))
    with open(csv, "a") as fh:
        fh.write(line + "\n")
    monkeypatch.setenv("SEARCH_PROFILES_DIR", str(root))
    before = _snapshot(root)
    code, err = _eval_profile(capsys, root.parent)
    assert _snapshot(root) == before
    if code != 0:  # else the line happened to be a valid row
        assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert csv.name in err  # the error names the file (and its line)


def _eval_profile(capsys, scratch: Path) -> tuple[int, str]:
    try:
        code = main(["predictor", "eval", "--device", "badbox", "--space", "nb201", "--train-size", "50",
                     "--json", "--plot", str(scratch / "scatter.png")])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


@settings(max_examples=8, **FUZZ)
@given(text=st.one_of(st.text(max_size=60), st.sampled_from(["{}", "[]", "null", '{"name": 3}',
                                                              '{"name": "x"}', '{"cores": "many"}'])))
def test_a_malformed_device_json_is_one_clear_error(tmp_path_factory, monkeypatch, text, capsys):
    import shutil

    from hwprofiles.store import find_profile

    root = tmp_path_factory.mktemp("badjson") / "profiles"
    shutil.copytree(find_profile("pixel3"), root / "badbox")
    (root / "badbox" / "device.json").write_text(text)
    monkeypatch.setenv("SEARCH_PROFILES_DIR", str(root))
    before = _snapshot(root)
    code, err = _eval_profile(capsys, root.parent)
    assert _snapshot(root) == before
    if code != 0:  # else a minimal but valid device.json ({"name": ...} takes defaults for the rest)
        assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert "device.json" in err
