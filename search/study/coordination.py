"""How the drivers of one study keep out of each other's way.

- Each driver tags the trials it runs with its host and pid (``driver_tag``).
- One driver per SQLite study: a second one fails at once (``sqlite_driver_lock``).
- On a server database several drivers share a study; they claim work under one
  lock file in the study's artifacts folder (``file_lock``), which they share
  anyway for the checkpoints.
- A driver that dies leaves running trials behind. On its own host its pid
  tells; from other hosts its heartbeat in the study does (``heartbeat``,
  ``orphaned``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import optuna

from search.errors import SearchError
from search.study.record import TrialRecord
from search.study.storage import StudyHandle

__all__ = ["driver_tag", "orphaned", "heartbeat", "heartbeat_key", "file_lock", "sqlite_driver_lock",
           "HEARTBEAT_S", "DRIVER_GRACE_S"]

log = logging.getLogger(__name__)
HEARTBEAT_S = 10.0
DRIVER_GRACE_S = 120.0  # a driver on another host silent this long is taken for dead


def driver_tag() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def heartbeat_key(tag: dict[str, Any]) -> str:
    return f"driver_heartbeat:{tag.get('host')}:{tag.get('pid')}"


def orphaned(frozen: optuna.trial.FrozenTrial, study_attrs: dict[str, Any], me: dict[str, Any]) -> bool:
    """Whether the driver that holds this running trial is gone (``me`` is the asking driver)."""
    tag = TrialRecord.of(frozen).driver or {}
    if tag.get("host") == me["host"]:
        return tag.get("pid") == me["pid"] or not _pid_alive(int(tag.get("pid", 0)))
    beat = study_attrs.get(heartbeat_key(tag))
    if beat is None:  # never beat: judge by the trial's age
        started = frozen.datetime_start.timestamp() if frozen.datetime_start else 0.0
        return time.time() - started > DRIVER_GRACE_S
    return time.time() - float(beat) > DRIVER_GRACE_S


@contextlib.contextmanager
def heartbeat(handle: StudyHandle):
    """A driver on a server database says every few seconds that it is alive, so drivers on other
    hosts can tell its running trials from those of a dead one (on one host the pid tells)."""
    if handle.storage.startswith("sqlite"):  # one driver per SQLite study: nothing to tell
        yield
        return
    key, stop = heartbeat_key(driver_tag()), threading.Event()

    def beat() -> None:
        while True:
            try:
                handle.study.set_user_attr(key, time.time())
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the run goes on
                log.warning("heartbeat not written: %s", exc)
            if stop.wait(HEARTBEAT_S):
                return

    thread = threading.Thread(target=beat, name="driver-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=HEARTBEAT_S)


@contextlib.contextmanager
def file_lock(path: Path):
    """Wait for, then hold, an exclusive lock on ``path`` (created with its folder)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def sqlite_driver_lock(handle: StudyHandle):
    """One driver per SQLite study: a second one fails at once, clearly, instead of hitting
    "database is locked" mid-run. Server databases (PostgreSQL, MySQL) take several drivers."""
    if not handle.storage.startswith("sqlite"):
        yield
        return
    import fcntl

    handle.artifacts.mkdir(parents=True, exist_ok=True)
    with open(handle.artifacts / "driver.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise SearchError(f"study {handle.name!r} is being run by another driver ({holder}); a SQLite "
                              "study takes one driver at a time: wait for it, or use --storage "
                              "postgresql://... for several") from None
        fh.truncate(0)
        fh.write(f"{socket.gethostname()}:{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
