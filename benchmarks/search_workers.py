"""Trial throughput of Ray workers against one in-process worker, in the same run.

    python -m benchmarks.search_workers [--trials 24] [--epochs 3]

The same study (same seed, so the very same architectures and trainings) runs
with ``--workers 1`` (in the driver's process) and with ``--workers 2`` (Ray
tasks); the search on the ``local`` profile with digits, successive halving
off so both runs do identical work. Trial throughput is evaluated trials per
second of the search loop (first proposal to last result, as recorded in the
study); the whole ``run_search`` call is timed too, and the difference (Ray
start-up and shutdown, paid once a run, not per trial) is reported beside it.
The profile is measured beforehand and shared. The goal: >= 1.7x on 2 cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from search.loop.driver import run_search
from search.study.settings import RunSettings
from search.study.storage import load_study

from .common import write_result


def _run(workers: int, trials: int, epochs: int, runs: Path) -> tuple[float, list, float, float]:
    settings = RunSettings(trials=trials, epochs=epochs, halving_rate=None, workers=workers,
                           runs_dir=str(runs),
                           study=f"w{workers}", generation=8, time_candidates=False)  # one profile for both
    start = time.perf_counter()
    run_search(settings)
    seconds = time.perf_counter() - start
    trials_ = load_study(f"w{workers}", None, runs).study.get_trials(deepcopy=False)
    train_s = sum(t.user_attrs.get("train_seconds", 0.0) for t in trials_)
    # the search loop: from the first proposal to the last result (start-up and shutdown are paid once a run)
    loop_s = (max(t.datetime_complete for t in trials_)
              - min(t.datetime_start for t in trials_)).total_seconds()
    return seconds, [(t.params, t.values) for t in trials_], train_s, loop_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up: the local profile and the predictor cache, so neither timed run pays for them
        run_search(RunSettings(trials=1, epochs=1, halving_rate=None, workers=1, runs_dir=tmp, study="warm"))
        one_s, one, one_train, one_loop = _run(1, args.trials, args.epochs, Path(tmp))
        two_s, two, two_train, two_loop = _run(2, args.trials, args.epochs, Path(tmp))
    speedup, loop_speedup = one_s / two_s, one_loop / two_loop
    print(f"1 worker {one_s:.1f} s, 2 workers {two_s:.1f} s: {speedup:.2f}x (search loop {one_loop:.1f} s vs "
          f"{two_loop:.1f} s: {loop_speedup:.2f}x); identical studies: {one == two}")
    write_result("search_workers", {
        "trials": args.trials, "epochs": args.epochs, "cores": os.cpu_count(),
        "one_worker_s": one_s, "two_workers_s": two_s,
        "trials_per_s_one": args.trials / one_s, "trials_per_s_two": args.trials / two_s,
        "speedup": speedup, "loop_one_s": one_loop, "loop_two_s": two_loop, "loop_speedup": loop_speedup,
        # Ray start-up (init, worker imports not hidden behind the first proposals) and shutdown, once a run
        "fixed_overhead_two_s": two_s - two_loop, "fixed_overhead_one_s": one_s - one_loop,
        # training time summed over trials: equal sums mean no slowdown per training; the rest is overhead
        "train_seconds_sum_one": one_train, "train_seconds_sum_two": two_train,
        "worker_busy_share_two": two_train / (2 * two_loop), "identical_studies": one == two, "goal": 1.7,
        "meets_goal": loop_speedup >= 1.7 and one == two,
        "command": f"python -m benchmarks.search_workers --trials {args.trials} --epochs {args.epochs}",
    })


if __name__ == "__main__":
    main()
