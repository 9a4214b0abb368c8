"""Storage under several drivers: 2 drivers on one PostgreSQL study vs one driver on SQLite and PostgreSQL.

    python -m benchmarks.storage_drivers [--trials 150] [--runs 3] [--postgres URL]

The tabular evaluator (NAS-Bench-201 table, Pixel 3 profile) makes an
evaluation nearly free, so a trial's time is the driver's own: sampling,
screening and the study DB. Each run times, in one go and in fresh spawned
processes (``run_search`` from call to return, imports excluded):

- one driver on SQLite (the default storage; the baseline),
- one driver on PostgreSQL,
- two drivers at once on one PostgreSQL study (wall time from the first start
  to the last finish).

and checks the two-driver study: exactly ``--trials`` evaluated trials, none
left running, none evaluated twice. Without ``--postgres`` a private server is
started with ``.ci/postgres`` (Debian's PostgreSQL, default durability settings:
fsync on, as SQLite's) and stopped afterwards.
Goal (issue 7): zero lost or duplicated trials over 3 runs; the overhead per
trial is reported beside SQLite's.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from .common import write_result

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _settings(trials: int, runs_dir: str, storage: str | None):
    from search.study.settings import RunSettings

    return RunSettings(device="pixel3", spaces=("nb201",), evaluator="tabular",
                       accuracy_table=str(SHARED / "nb201_accuracy.csv"), trials=trials, generation=8,
                       population=20, workers=1, latency_ms=20.0, predictor_rows=300, runs_dir=runs_dir,
                       storage=storage, study="storage", finalize=False)


def _driver(trials: int, runs_dir: str, storage: str | None, start_at: float, out) -> None:
    import logging

    from search.loop.driver import run_search

    logging.disable(logging.WARNING)
    settings = _settings(trials, runs_dir, storage)
    while time.time() < start_at:  # both drivers begin together, after their imports
        time.sleep(0.001)
    start = time.time()
    run_search(settings)
    out.put((start, time.time()))


def _timed(drivers: int, trials: int, runs_dir: str, storage: str | None) -> float:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 15  # after the spawned interpreters have imported torch and optuna
    procs = [ctx.Process(target=_driver, args=(trials, runs_dir, storage, start_at, out))
             for _ in range(drivers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=1800)
        if p.exitcode != 0:
            raise SystemExit(f"a driver failed (exit {p.exitcode})")
    spans = [out.get(timeout=10) for _ in procs]
    return max(end for _, end in spans) - min(start for start, _ in spans)


def _check(trials: int, storage: str) -> dict:
    import optuna

    got = optuna.load_study(study_name="storage", storage=storage).get_trials()
    status = collections.Counter(t.user_attrs.get("status") for t in got)
    evaluated = sum(status[s] for s in ("complete", "pruned", "failed"))
    running = sum(1 for t in got if t.state.name == "RUNNING")
    drivers = collections.Counter(t.user_attrs["driver"]["pid"] for t in got
                                  if t.user_attrs.get("status") == "complete")
    return {"evaluated": evaluated, "lost": max(0, trials - evaluated),
            "duplicated": max(0, evaluated - trials),
            "left_running": running, "numbers_unique": len({t.number for t in got}) == len(got),
            "per_driver": sorted(drivers.values())}


def _new_database(admin: str) -> str:
    import sqlalchemy

    name = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'create database "{name}"'))
    engine.dispose()
    return sqlalchemy.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=150)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (default: start a private one)")
    args = parser.parse_args()
    server_dir = None
    admin = args.postgres
    if admin is None:
        server_dir = tempfile.mkdtemp(prefix="search-bench-pg.")
        env = {**os.environ, "SEARCH_PG_OPTIONS": ""}
        admin = subprocess.run([str(ROOT / ".ci" / "postgres"), "start", server_dir], check=True, env=env,
                               capture_output=True, text=True).stdout.strip()
    rows = []
    try:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                sqlite_s = _timed(1, args.trials, str(Path(tmp) / "sqlite"), None)
                pg_one = _new_database(admin)
                pg_one_s = _timed(1, args.trials, str(Path(tmp) / "pg1"), pg_one)
                pg_two = _new_database(admin)
                pg_two_s = _timed(2, args.trials, str(Path(tmp) / "pg2"), pg_two)
                check = _check(args.trials, pg_two)
            row = {"run": run, "sqlite_one_driver_s": sqlite_s, "postgres_one_driver_s": pg_one_s,
                   "postgres_two_drivers_s": pg_two_s, **{f"two_drivers_{k}": v for k, v in check.items()}}
            rows.append(row)
            print(f"run {run}: SQLite 1 driver {sqlite_s:.1f} s, PostgreSQL 1 driver {pg_one_s:.1f} s, "
                  f"2 drivers {pg_two_s:.1f} s; two-driver study {check}")
    finally:
        if server_dir:
            subprocess.run([str(ROOT / ".ci" / "postgres"), "stop", server_dir], check=False,
                           capture_output=True, env=env)
    n = args.trials
    med = {k: statistics.median(r[k] for r in rows) for k in ("sqlite_one_driver_s", "postgres_one_driver_s",
                                                               "postgres_two_drivers_s")}
    per_trial_ms = {k.replace("_s", "_ms_per_trial"): 1000 * v / n for k, v in med.items()}
    lost = sum(r["two_drivers_lost"] + r["two_drivers_duplicated"] + r["two_drivers_left_running"]
               for r in rows)
    meets = lost == 0 and all(r["two_drivers_numbers_unique"] for r in rows)
    print(f"per trial (median of {args.runs}): " + ", ".join(f"{k} {v:.1f}" for k, v in per_trial_ms.items())
          + "; PostgreSQL/SQLite one driver "
          f"{med['postgres_one_driver_s'] / med['sqlite_one_driver_s']:.2f}x; lost or duplicated: {lost}")
    write_result("storage_drivers", {
        "trials": n, "runs": rows, **per_trial_ms,
        "postgres_over_sqlite_one_driver": med["postgres_one_driver_s"] / med["sqlite_one_driver_s"],
        "two_drivers_speedup_over_one_postgres": med["postgres_one_driver_s"] / med["postgres_two_drivers_s"],
        "lost_or_duplicated": lost, "meets_goal": meets,
        "goal": "2 drivers on one PostgreSQL study: 0 lost or duplicated trials over 3 runs",
        "command": f"python -m benchmarks.storage_drivers --trials {n} --runs {args.runs}",
    })


if __name__ == "__main__":
    main()
