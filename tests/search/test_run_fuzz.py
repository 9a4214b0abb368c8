"""Bad values for every numeric flag of ``run``: one line on stderr, exit code 2, nothing written."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.cli.main import main

# capsys is read (and so emptied) after every example
FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
POSITIVE_INT_FLAGS = ("--trials", "--workers", "--epochs", "--generation", "--population", "--batch-size",
                      "--profile-count")
POSITIVE_FLOAT_FLAGS = ("--latency-ms", "--lr")

bad_ints = st.one_of(st.integers(max_value=0).map(str), st.sampled_from(["x", "1.5", "", "nan", "1e3"]))
bad_floats = st.one_of(st.floats(max_value=0, allow_nan=False).map(repr),
                       st.sampled_from(["nan", "inf", "-inf", "abc", ""]))


def _check(argv, tmp_path, capsys):
    runs = tmp_path / "runs"
    try:
        # a value that is accidentally valid meets an unknown device, never a real search
        code = main(["run", "--runs-dir", str(runs), "--device", "fuzz-no-such-device", *argv])
    except SystemExit as exc:  # argparse's own errors (not a number at all) exit 2 by themselves
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not runs.exists() or not any(runs.iterdir())  # nothing written to a study


@settings(max_examples=40, **FUZZ)
@given(flag=st.sampled_from(POSITIVE_INT_FLAGS), value=bad_ints)
def test_bad_counts(tmp_path_factory, flag, value, capsys):
    _check([flag, value], tmp_path_factory.mktemp("f"), capsys)


@settings(max_examples=30, **FUZZ)
@given(flag=st.sampled_from(POSITIVE_FLOAT_FLAGS), value=bad_floats)
def test_bad_amounts(tmp_path_factory, flag, value, capsys):
    _check([flag, value], tmp_path_factory.mktemp("f"), capsys)


@settings(max_examples=20, **FUZZ)
@given(value=st.one_of(st.floats(max_value=1.0, allow_nan=False), st.just(math.nan), st.just(math.inf)))
def test_bad_halving_rates(tmp_path_factory, value, capsys):
    _check(["--halving-rate", repr(value)], tmp_path_factory.mktemp("f"), capsys)


@settings(max_examples=20, **FUZZ)
@given(value=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(math.inf)))
def test_bad_coverages(tmp_path_factory, value, capsys):
    _check(["--coverage", repr(value)], tmp_path_factory.mktemp("f"), capsys)


@settings(max_examples=20, **FUZZ)
@given(flag=st.sampled_from(["--space", "--sampler", "--dataset", "--evaluator", "--optimizer", "--precision"]),
       value=st.text(alphabet="abcxyz_", min_size=1, max_size=12))
def test_unknown_names(tmp_path_factory, flag, value, capsys):
    _check([flag, value + "_nope"], tmp_path_factory.mktemp("f"), capsys)
