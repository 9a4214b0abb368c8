"""How long a fresh machine waits for its predictors, beside a baseline checkout in the same run.

``python -m benchmarks.fit_time --baseline DIR``: DIR is a checkout of the code to compare with (for
instance ``git worktree add /tmp/base <commit>``); each command runs once from DIR and once from this
tree, alternately, each with an empty cache (``SEARCH_CACHE_DIR``) and the same interpreter:

* ``predictor eval --train-size 900`` on gold_6226's NAS-Bench-201 and FBNet rows: seconds, and the
  held-out share within ±10%, Spearman and the bound's coverage (nothing may be lost for the time);
* the few-shot path, ``predictor eval --train-size 20 --prior auto`` (every other profile's predictor
  fitted as a source);
* ``run --device gold_6226 --space nb201`` (default workers: a local Ray cluster starts): seconds until
  the study holds its first trial, the moment the first training is handed to the workers (the process
  is then interrupted).

A command still running after ``--limit`` seconds is stopped and reported as at least that long.

``candidates`` (this tree only, in process): on each published device's NAS-Bench-201 rows, 900 of them,
every candidate's 5-fold cross-validated share within ±10% and its seconds, the Gaussian process included
although above ``GP_MAX_ROWS`` it is no longer tried.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import write_result
from benchmarks.predictor_accuracy import DEVICES
from hwprofiles.profile import load_profile
from hwprofiles.store import SHIPPED_DIR
from predictors import rows_to_data
from predictors.models import CANDIDATES, _cross_validate
from predictors.parallel import fit_jobs
from spaces import create_space

HERE = Path(__file__).resolve().parents[1]
EVAL = ["predictor", "eval", "--device", "gold_6226", "--space"]
EVALS = {"eval900_nb201": [*EVAL, "nb201", "--train-size", "900"],
         "eval900_fbnet": [*EVAL, "fbnet", "--train-size", "900"],
         "fewshot20_nb201": [*EVAL, "nb201", "--train-size", "20", "--prior", "auto"]}
RUN = ["run", "--device", "gold_6226", "--space", "nb201", "--trials", "1", "--no-finalize"]


def _env(cache: str) -> dict[str, str]:
    return {**os.environ, "SEARCH_CACHE_DIR": cache, "PYTHONUNBUFFERED": "1"}


def time_eval(tree: Path, args: list[str], limit: float) -> dict:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-m", "search", *args, "--json", "--plot",
                                   f"{work}/p.png"], cwd=tree, env=_env(cache), capture_output=True,
                                  text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return {"seconds": None, "at_least_s": limit}
        seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{args} in {tree} failed: {done.stderr[-2000:]}")
    metrics = json.loads(done.stdout.strip().splitlines()[-1])["predictor"]
    return {"seconds": round(seconds, 1),
            **{k: metrics[k] for k in ("within10", "spearman", "upper_coverage")}}


def time_first_training(tree: Path, limit: float) -> dict:
    """Seconds from the command's start until its study holds a trial."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as work:
        proc = subprocess.Popen([sys.executable, "-m", "search", *RUN, "--runs-dir", work], cwd=tree,
                                env=_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        t0, seconds = time.perf_counter(), None
        try:
            while time.perf_counter() - t0 < limit and proc.poll() is None:
                for db in Path(work).glob("*/study.db"):
                    try:
                        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
                            if con.execute("SELECT count(*) FROM trials").fetchone()[0]:
                                seconds = time.perf_counter() - t0
                    except sqlite3.Error:
                        pass  # not created yet
                if seconds is not None:
                    break
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        if seconds is None and proc.returncode not in (None, 0, 130, -signal.SIGINT):
            raise RuntimeError(f"run in {tree} failed: {proc.stderr.read()[-2000:]}")
    return {"seconds": round(seconds, 1)} if seconds is not None else {"seconds": None, "at_least_s": limit}


def candidate_costs() -> dict:
    space, out = create_space("nb201"), {}
    for device in DEVICES:
        data = rows_to_data(load_profile(SHIPPED_DIR / device, check_arch=False).select(space="nb201"), space)
        rows = np.random.default_rng(0).permutation(len(data.latency_ms))[:900]
        X, y = data.X[rows], data.latency_ms[rows]
        out[device] = {}
        for name in CANDIDATES:  # the Gaussian process too: it is still a candidate, below GP_MAX_ROWS
            t0 = time.perf_counter()
            scores, _ = _cross_validate(X, y, [name], 5, 0, fit_jobs(len(y)))
            out[device][name] = {"within10": scores[name]["within10"],
                                 "seconds": round(time.perf_counter() - t0, 2)}
        best = max(out[device].items(), key=lambda kv: kv[1]["within10"])
        print(f"candidates {device}: best {best[0]} {best[1]['within10']:.3f}; gp "
              f"{out[device]['additive+gp']['within10']:.3f} in {out[device]['additive+gp']['seconds']} s",
              flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, required=True, help="checkout of the code to compare with")
    ap.add_argument("--limit", type=float, default=900.0, help="seconds after which a command is stopped")
    ap.add_argument("--skip-candidates", action="store_true")
    args = ap.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this": HERE}
    commits = {k: subprocess.run(["git", "describe", "--always", "--dirty"], cwd=t, capture_output=True,
                                 text=True).stdout.strip() for k, t in trees.items()}
    result: dict = {"settings": {"commits": commits, "limit_s": args.limit, "fit_jobs": fit_jobs(900)},
                    "goals": {"eval900_s": 20, "fewshot_s": 60, "first_training_s": 30}}
    for name, cmd in EVALS.items():
        result[name] = {}
        for label, tree in trees.items():
            result[name][label] = time_eval(tree, cmd, args.limit)
            print(name, label, result[name][label], flush=True)
    result["first_training"] = {}
    for label, tree in trees.items():
        result["first_training"][label] = time_first_training(tree, args.limit)
        print("first_training", label, result["first_training"][label], flush=True)
    if not args.skip_candidates:
        result["candidates"] = candidate_costs()
    print("wrote", write_result("fit_time", result))


if __name__ == "__main__":
    main()
