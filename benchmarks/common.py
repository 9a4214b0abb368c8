"""Shared pieces of the benchmark scripts: machine description and result files."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "os": platform.platform()}


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path


def mnist_on_one_thread():
    """Quiet logs, one torch thread, and the MNIST split (60/20/20 of ../shared/data/mnist) the training
    benchmarks share."""
    import logging

    import torch

    from search.training.datasets import load_dataset

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    return load_dataset("mnist", SHARED / "mnist", seed=0)


def pin_to_one_core() -> None:
    """Claims 'on one core' are measured on one core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


class RandomTrial:
    """A minimal stand-in for an Optuna trial that draws uniformly with a numpy Generator.

    Spaces sample only through ``trial.suggest_*``, so any object with these
    methods works; this one is fast enough to draw 10,000 configs in a second.
    """

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.params: dict[str, Any] = {}

    def suggest_categorical(self, name: str, choices):
        value = choices[int(self.rng.integers(len(choices)))]
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False):
        value = int(self.rng.integers(low, high + 1))
        self.params[name] = value
        return value


def isolated_env(folder: Path) -> dict[str, str]:
    """The environment of a run with its own profile and predictor-cache folders under ``folder``."""
    return dict(os.environ, SEARCH_PROFILES_DIR=str(folder / "profiles"),
                SEARCH_CACHE_DIR=str(folder / "cache"))
