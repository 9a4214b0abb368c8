"""Bad values for every flag of ``run`` that takes one: one line on stderr naming the flag, exit code 2,
nothing written."""

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
    """``argv`` with a bad value of one flag: rejected by that flag's own check, not by anything else.

    Everything else is valid and real: the tiny measured ``local`` profile (``local_device``) and a dataset
    folder that is empty, so a value that slipped through a broken check fails later, on the dataset, with a
    message that does not name the flag, and the test goes red.
    """
    runs, data = tmp_path / "runs", tmp_path / "no-images"
    data.mkdir(exist_ok=True)
    flag = argv[0]
    try:
        code = main(["run", "--runs-dir", str(runs), "--no-finalize", "--dataset", "mnist",
                     "--data-dir", str(data), *argv])
    except SystemExit as exc:  # argparse's own errors (not a number at all) exit 2 by themselves
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert flag.lstrip("-") in err, (argv, err)  # the check of this flag said no
    assert not runs.exists() or not any(runs.iterdir())  # nothing written to a study


@settings(max_examples=40, **FUZZ)
@given(flag=st.sampled_from(POSITIVE_INT_FLAGS), value=bad_ints)
def test_bad_counts(local_device, tmp_path_factory, flag, value, capsys):
    _check([flag, value], tmp_path_factory.mktemp("f"), capsys)


@settings(max_examples=30, **FUZZ)
@given(flag=st.sampled_from(POSITIVE_FLOAT_FLAGS), value=bad_floats)
def test_bad_amounts(local_device, tmp_path_factory, flag, value, capsys):
    _check([flag, value], tmp_path_factory.mktemp("f"), capsys)


@settings(max_examples=20, **FUZZ)
@given(value=st.one_of(st.floats(max_value=1.0, allow_nan=False), st.just(math.nan), st.just(math.inf)))
def test_bad_halving_rates(local_device, tmp_path_factory, value, capsys):
    _check(["--halving-rate", repr(value)], tmp_path_factory.mktemp("f"), capsys)


@settings(max_examples=20, **FUZZ)
@given(value=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(math.inf)))
def test_bad_coverages(local_device, tmp_path_factory, value, capsys):
    _check(["--coverage", repr(value)], tmp_path_factory.mktemp("f"), capsys)


@settings(max_examples=20, **FUZZ)
@given(flag=st.sampled_from(["--space", "--sampler", "--dataset", "--evaluator", "--optimizer",
                             "--precision"]),
       value=st.text(alphabet="abcxyz_", min_size=1, max_size=12))
def test_unknown_names(local_device, tmp_path_factory, flag, value, capsys):
    _check([flag, value + "_nope"], tmp_path_factory.mktemp("f"), capsys)


def test_a_valid_run_gets_past_the_flag_checks(local_device, tmp_path, capsys):
    """The control: the same command with valid values fails only on the empty dataset folder."""
    data = tmp_path / "no-images"
    data.mkdir()
    code = main(["run", "--runs-dir", str(tmp_path / "runs"), "--no-finalize", "--dataset", "mnist",
                 "--data-dir", str(data), "--trials", "3", "--coverage", "0.5"])
    err = capsys.readouterr().err
    assert code == 2 and "expected MNIST IDX files" in err, err
