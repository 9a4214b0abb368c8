"""The CLI as a user meets it: a subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spaces import list_spaces

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_spaces_lists_every_space_with_its_size():
    result = run_cli("spaces")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["space", "architectures"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == list_spaces()
    assert "15,625" in next(line for line in lines if line.startswith("nb201"))


def test_unknown_command_is_one_line_and_exit_2():
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_command_prints_help_and_exit_2():
    result = run_cli()
    assert result.returncode == 2
    assert "spaces" in result.stdout


import pytest  # noqa: E402


@pytest.mark.parametrize("args, needle", [
    (["profile", "--device", "x", "--count", "0"], "count"),
    (["profile", "--device", "../evil"], "invalid device name"),
    (["profile", "--device", "x", "--space", "warp"], "unknown space"),
    (["profile", "--device", "x", "--precision", "fp16"], "precision"),
    (["profile", "--device", "x", "--count", "many"], "expected a positive integer"),
    (["profile"], "--device"),
    (["profile", "import", "nowhere.txt", "--device", "x"], "neither"),
])
def test_profile_bad_input_is_one_line_exit_2(args, needle, tmp_path):
    import os

    env = {**os.environ, "SEARCH_PROFILES_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "search", *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written
