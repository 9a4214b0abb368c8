"""Real services for the scale-out tests: a PostgreSQL server and a two-node Ray cluster.

The Ray cluster is started by the fixture itself (Ray is a dependency, so it always runs).

PostgreSQL comes from ``SEARCH_TEST_POSTGRES_URL`` (``.ci/run`` starts a server on
loopback and sets it); each test gets a database of its own. Without a server the
tests skip with the reason, unless ``SEARCH_REQUIRE_SERVICES=1`` (set by ``.ci/run``),
which turns the skip into a failure: CI must exercise them for real.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from ..required import unavailable

POSTGRES_ENV = "SEARCH_TEST_POSTGRES_URL"


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database on the test server, dropped afterwards."""
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        unavailable(f"no PostgreSQL server: set {POSTGRES_ENV}=postgresql://user@host:port/db "
                    "(.ci/run starts one)")
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means: not available
        unavailable(f"PostgreSQL at {admin} is not reachable: "
                    f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    name = f"search_test_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'create database "{name}"'))
    url = sqlalchemy.engine.make_url(admin).set(database=name)
    yield url.render_as_string(hide_password=False)
    sqlalchemy.orm.close_all_sessions()
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'drop database if exists "{name}" with (force)'))
    engine.dispose()


def _cluster_processes(temp: Path, port: int) -> set[int]:
    """Pids of one Ray cluster's processes: those whose command line names its temp folder or its port
    (the nodes' daemons), and their descendants (agents, workers). Other Ray instances on this machine,
    such as a local one another test process started, are not touched."""
    marks = (str(temp).encode(), f":{port}".encode(), f"={port}".encode())
    parent, roots = {}, set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        parent[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        if any(mark in cmdline for mark in marks):
            roots.add(pid)
    found, grew = set(roots), True
    while grew:
        children = {pid for pid, ppid in parent.items() if ppid in found} - found
        found |= children
        grew = bool(children)
    return found - {os.getpid()}


def _stop(pids: set[int]) -> None:
    for sig, grace_s in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster():
    """A real two-node Ray cluster on this machine: ``ray start --head`` and a second node joined by
    address, one CPU each. Yields the address; stops exactly what it started (not ``ray stop``,
    which would end every Ray instance of this user, nor every process named ray: another test
    process may run a local instance at the same time).

    Token authentication is off for this loopback-only cluster: Ray caches the token it first
    sees in a process, so a token of the cluster's own would break the local instances that the
    other tests of this pytest process start.
    """
    ray_cli = Path(sys.executable).parent / "ray"
    # a short folder of its own: Ray's socket paths under it must stay within 107 bytes, which pytest's
    # temporary folders (deeper still under pytest-xdist) exceed
    port, temp = _free_port(), Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    try:
        for args in (["--head", "--port", str(port), "--include-dashboard=false", "--temp-dir", str(temp)],
                     ["--address", address]):
            done = subprocess.run([str(ray_cli), "start", *args, *common], capture_output=True, text=True,
                                  timeout=180, env=env)
            if done.returncode != 0:
                pytest.fail(f"ray start {' '.join(args)} failed:\n"
                            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        yield address
    finally:
        _stop(_cluster_processes(temp, port))
        shutil.rmtree(temp, ignore_errors=True)
