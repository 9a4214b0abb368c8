"""What defines a search: ``RunSettings``, validated when made, and the part of it that names a study."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from search.errors import SearchError
from search.training.datasets import DATASETS
from search.training.settings import OPTIMIZERS
from spaces import UnknownNameError, list_spaces

__all__ = ["RunSettings", "SAMPLERS", "EVALUATORS", "PRECISIONS", "PRIORS", "FEWSHOT_BELOW_ROWS"]

SAMPLERS = ("nsga2", "tpe", "gp", "random")
EVALUATORS = ("training", "tabular")
PRECISIONS = ("fp32", "int8")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def default_workers() -> int:
    """One evaluation per CPU core, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


PRIORS = ("auto", "none")
#: a profile with fewer rows of a space than this is screened by the few-shot transfer (``--prior auto``)
FEWSHOT_BELOW_ROWS = 100

@dataclass(frozen=True)
class RunSettings:
    """Everything ``python -m search run`` takes; ``identity()`` is the part that defines the study."""

    device: str = "local"
    spaces: tuple[str, ...] = ("mobile_cnn",)
    dataset: str = "digits"
    data_dir: str | None = None
    evaluator: str = "training"
    accuracy_table: str | None = None
    latency_ms: float | None = None
    precision: str = "fp32"
    coverage: float = 0.9
    trials: int = 24
    workers: int = field(default_factory=default_workers)  # evaluations at once
    epochs: int = 10
    halving_rate: float | None = 3.0
    generation: int = 8
    population: int = 20  # NSGA-II population; random startup trials of TPE and GP
    sampler: str = "nsga2"
    optimizer: str = "adamw"
    lr: float = 1e-2
    batch_size: int = 32
    seed: int = 0
    study: str | None = None
    storage: str | None = None
    runs_dir: str = "runs"
    ray_address: str | None = None
    job_timeout_s: float | None = None  # None: measured (search.execution.timeouts)
    profile_count: int = 40
    predictor_rows: int | None = None  # fit the screening predictor on at most this many rows (default all)
    # "auto": a device with fewer than FEWSHOT_BELOW_ROWS rows of a space is screened by the few-shot
    # transfer from the other profiles of that space (search.screening.fitting)
    prior: str = "auto"
    # local device: time each candidate before training it (search.screening.candidate_timing)
    time_candidates: bool = True
    finalize: bool = True
    # evaluate an architecture the study already has again (to measure training noise); off: told the result
    repeat_architectures: bool = False
    space_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_names()
        self._check_counts()
        self._check_numbers()

    def _check_names(self) -> None:
        """Spaces, evaluator, sampler, dataset, optimizer, precision and study name are known or valid."""
        for name in self.spaces:
            if name not in list_spaces():
                raise UnknownNameError("space", name, list_spaces())
        if not self.spaces or len(set(self.spaces)) != len(self.spaces):
            raise SearchError(f"--space needs distinct space names, got {','.join(self.spaces) or 'none'}")
        for kind, value, valid in (("evaluator", self.evaluator, EVALUATORS),
                                   ("sampler", self.sampler, SAMPLERS),
                                   ("optimizer", self.optimizer, OPTIMIZERS)):
            if value not in valid:
                raise UnknownNameError(kind, value, valid)
        if self.evaluator == "training" and self.dataset not in DATASETS:
            raise UnknownNameError("dataset", self.dataset, DATASETS)
        if self.evaluator == "tabular":
            if self.spaces != ("nb201",):
                raise SearchError("the tabular evaluator looks accuracies up in a NAS-Bench-201 table: "
                                  "use --space nb201")
            if not self.accuracy_table:
                raise SearchError("--evaluator tabular needs --accuracy-table PATH "
                                  "(nb201_accuracy.csv format)")
        if self.precision not in PRECISIONS:
            raise SearchError(f"--precision must be fp32 or int8, got {self.precision!r}")
        if self.study is not None and not _NAME_RE.match(self.study):
            raise SearchError("--study must be 1-128 letters, digits, '.', '_', '+' or '-', "
                              f"got {self.study!r}")

    def _check_counts(self) -> None:
        for name in ("trials", "workers", "epochs", "generation", "population", "batch_size",
                     "profile_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SearchError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.predictor_rows is not None and (not isinstance(self.predictor_rows, int)
                                                or self.predictor_rows < 10):
            raise SearchError(f"--predictor-rows must be an integer >= 10, got {self.predictor_rows!r}")
        if self.prior not in PRIORS:
            raise SearchError(f"--prior must be one of {', '.join(PRIORS)}, got {self.prior!r}")

    def _check_numbers(self) -> None:
        if self.halving_rate is not None and not (_finite(self.halving_rate) and self.halving_rate > 1):
            raise SearchError(f"--halving-rate must be a number above 1, got {self.halving_rate!r}")
        if not (_finite(self.lr) and self.lr > 0):
            raise SearchError(f"--lr must be a positive number, got {self.lr!r}")
        timeout = self.job_timeout_s
        if timeout is not None and not (_finite(timeout) and timeout > 0):
            raise SearchError(f"--job-timeout must be a positive number of seconds, got {timeout!r}")
        if self.latency_ms is not None and not (_finite(self.latency_ms) and self.latency_ms > 0):
            raise SearchError(f"--latency-ms must be a positive number, got {self.latency_ms!r}")
        if not (_finite(self.coverage) and 0 < self.coverage < 1):
            raise SearchError(f"--coverage must be in (0, 1), got {self.coverage!r}")

    def identity(self, budget_ms: float) -> dict[str, Any]:
        """What must match for a re-run to continue this study."""
        keep = ("device", "spaces", "dataset", "evaluator", "precision", "coverage", "epochs", "halving_rate",
                "generation", "population", "sampler", "optimizer", "lr", "batch_size", "seed",
                "space_options", "predictor_rows")
        out = {k: v for k, v in asdict(self).items() if k in keep}
        out["spaces"] = list(self.spaces)
        if self.evaluator == "tabular":
            out.update(dataset="nb201-table", epochs=None, halving_rate=None, optimizer=None, lr=None,
                       batch_size=None)
        out["budget_ms"] = round(float(budget_ms), 6)
        return json.loads(json.dumps(out))  # as the study stores it: tuples become lists

    def study_name(self) -> str:
        """``--study`` or a name derived from the settings (the budget only when given)."""
        if self.study:
            return self.study
        data = "nb201tab" if self.evaluator == "tabular" else self.dataset
        budget = "auto" if self.latency_ms is None else f"{self.latency_ms:g}ms"
        return "-".join((self.device, "+".join(self.spaces), data, budget, self.sampler, f"e{self.epochs}",
                         f"s{self.seed}"))
