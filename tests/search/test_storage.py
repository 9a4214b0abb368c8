"""The study's storage: SQLite set up for a driver's many small commits, and trials read one by one."""

from __future__ import annotations

import sqlite3

import optuna

from search.study.record import frozen_trial
from search.study.storage import connect_storage


def test_a_sqlite_study_is_in_write_ahead_log_mode_with_normal_sync(tmp_path):
    db = tmp_path / "study.db"
    storage = connect_storage(f"sqlite:///{db}")
    optuna.create_study(storage=storage, study_name="s").ask()
    with storage.engine.connect() as connection:
        sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    assert sync == 1  # NORMAL, on every connection the storage opens
    with sqlite3.connect(db) as other:  # the mode is the file's: another process sees it too
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_trial_is_read_by_number_as_stored_now(tmp_path):
    storage = connect_storage(f"sqlite:///{tmp_path / 'study.db'}")
    study = optuna.create_study(storage=storage, study_name="s")
    for value in (1.0, 2.0, 3.0):
        trial = study.ask()
        trial.set_user_attr("v", value)
        study.tell(trial, value)
    assert frozen_trial(study, storage, 1).user_attrs["v"] == 2.0
    assert frozen_trial(study, storage, 2).values == [3.0]
