"""A driver killed with SIGKILL mid-study (issue 7): the same command resumes it, and the study
ends with exactly the requested trials, none duplicated, none left running."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict

from optuna.trial import TrialState

from search.loop.driver import run_search
from search.study.settings import RunSettings
from search.study.storage import load_study

from ..tiny import TINY

DRIVER = """
import json, sys
from search.loop.driver import run_search
from search.study.settings import RunSettings
kw = json.loads(sys.argv[1])
run_search(RunSettings(**{**kw, "spaces": tuple(kw["spaces"])}))
"""


def _training_rows(db) -> tuple[int, int]:
    """(trials evaluated, trials training) as the study DB holds them now."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute("select t.state, a.value_json from trials t join trial_user_attributes a "
                                "on a.trial_id = t.trial_id where a.key = 'status'").fetchall()
    except sqlite3.OperationalError:  # the driver is still creating the tables
        return 0, 0
    status = [(state, json.loads(value)) for state, value in rows]
    evaluated = sum(1 for state, st in status
                    if st in ("complete", "pruned", "failed") and state != "RUNNING")
    return evaluated, sum(1 for state, st in status if st == "training" and state == "RUNNING")


def test_a_sigkilled_driver_resumes_to_exactly_the_requested_trials(local_device, tmp_path):
    settings = RunSettings(space_options=TINY, trials=4, epochs=2, halving_rate=2.0, generation=2,
                           population=4, workers=1, batch_size=64, runs_dir=str(tmp_path / "runs"),
                           profile_count=12, time_candidates=False)
    db = tmp_path / "runs" / settings.study_name() / "study.db"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(asdict(settings))], cwd=os.getcwd(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and driver.poll() is None:
            if db.exists():
                evaluated, training = _training_rows(db)
                if evaluated >= 1 and training >= 1:
                    break
            time.sleep(0.05)
        assert driver.poll() is None, ("the driver ended before it could be killed: "
                                       f"{driver.stderr.read()[-2000:]}")
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait(timeout=30)
    before = load_study(settings.study_name(), runs_dir=settings.runs_dir).study.get_trials()
    orphans = {t.number: t.params for t in before if t.state == TrialState.RUNNING}
    assert orphans, "the kill came between trials; nothing was left running"

    outcome = run_search(settings)  # the same command again
    after = load_study(settings.study_name(), runs_dir=settings.runs_dir).study.get_trials()
    evaluated = [t for t in after if t.user_attrs.get("status") in ("complete", "pruned", "failed")]
    assert outcome.evaluated == 4 == len(evaluated)
    assert all(t.state != TrialState.RUNNING for t in after)
    for number, params in orphans.items():  # adopted and finished in place, not replaced
        assert after[number].params == params and after[number].state != TrialState.RUNNING
