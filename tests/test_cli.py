"""The CLI as a user meets it: a subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
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


def _processes_with(marker: str) -> list[int]:
    """Processes whose environment holds ``marker`` (the command's and every worker it started)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            pass  # gone, or not ours to read
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the workers through /proc")
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_a_signal_during_a_parallel_fit_ends_the_command_and_its_workers(tmp_path, signum, code, word):
    """A fresh-cache fit of 900 rows cross-validates in worker processes; SIGTERM (a scheduler's stop) ends
    it as Ctrl-C does, with nothing left running."""
    tag = uuid.uuid4().hex
    marker = f"SEARCH_TEST_MARKER={tag}"
    env = {**os.environ, "SEARCH_CACHE_DIR": str(tmp_path / "cache"), "SEARCH_FIT_JOBS": "2",
           "SEARCH_TEST_MARKER": tag}
    proc = subprocess.Popen([sys.executable, "-m", "search", "predictor", "eval", "--device", "gold_6226",
                             "--space", "fbnet", "--train-size", "900", "--plot", str(tmp_path / "p.png")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for _ in range(600):  # until the fit has started its workers (the command's own process is one)
            if len(_processes_with(marker)) > 1 or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the fit ended before it was signalled"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code and err.strip().endswith(word)
    for _ in range(100):  # workers see their pipe close and exit
        if not _processes_with(marker):
            break
        time.sleep(0.1)
    assert not _processes_with(marker)
