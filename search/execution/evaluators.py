"""Evaluators: turn an architecture into a validation accuracy, behind one interface.

- ``TrainingEvaluator``: a real short training (``search.train``) on a dataset's
  train split, accuracy on its validation split; ``session`` continues a
  training rung by rung for successive halving.
- ``TabularEvaluator``: looks the accuracy up in a NAS-Bench-201 table
  (../shared/data/nb201_accuracy.csv format): the search sees
  ``cifar10valid_valid_acc``, the report shows ``cifar10_test_acc``. It lets
  the search strategy be benchmarked without training.

Every evaluator passes ``tests/search/test_evaluators.py``.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search.errors import SearchError
from search.training.datasets import ImageData
from search.training.settings import TrainSettings
from search.training.trainer import Trainer
from spaces import ArchConfig, NasError, SearchSpace, create_space

__all__ = ["EvalResult", "Evaluator", "TrainingEvaluator", "TabularEvaluator", "TabularError"]


@dataclass(frozen=True)
class EvalResult:
    val_accuracy: float  # 0..1, what the search optimizes
    epochs: int  # training budget spent (the table's own for tabular)
    train_seconds: float
    test_accuracy: float | None = None  # only where it is free to know (tabular); training never looks
    history: tuple[float, ...] = ()  # validation accuracy per epoch
    extra: dict[str, Any] = field(default_factory=dict)


class Evaluator(ABC):
    name: str

    @abstractmethod
    def evaluate(self, space: SearchSpace, config: ArchConfig, budget: int, seed: int) -> EvalResult:
        """Validation accuracy of ``config`` after ``budget`` epochs (deterministic for a seed on CPU)."""


class TrainingSession:
    """One architecture's training, advanced rung by rung (successive halving)."""

    def __init__(self, trainer: Trainer, model: Any):
        self.trainer, self.model = trainer, model

    def advance(self, epochs: int) -> EvalResult:
        accuracy = self.trainer.train_until(epochs)
        return EvalResult(accuracy, self.trainer.epochs_done, self.trainer.train_seconds,
                          history=tuple(self.trainer.history), extra={"final_loss": self.trainer.last_loss})


class TrainingEvaluator(Evaluator):
    name = "training"

    def __init__(self, data: ImageData, settings: TrainSettings | None = None):
        self.data = data
        self.settings = settings or TrainSettings()

    def session(self, space: SearchSpace, config: ArchConfig, max_budget: int, seed: int) -> TrainingSession:
        import torch

        torch.manual_seed(seed)
        model = space.build(config, num_classes=self.data.num_classes, in_chans=self.data.in_chans)
        settings = dataclasses.replace(self.settings, seed=seed)
        return TrainingSession(Trainer(model, self.data, space.resolution(config), settings, max_budget),
                               model)

    def evaluate(self, space: SearchSpace, config: ArchConfig, budget: int, seed: int) -> EvalResult:
        return self.session(space, config, budget, seed).advance(budget)


class TabularError(SearchError):
    """The accuracy table is missing, malformed, or lacks an architecture."""


class TabularEvaluator(Evaluator):
    name = "tabular"
    TABLE_EPOCHS = 200  # NAS-Bench-201 accuracies are after 200 epochs

    def __init__(self, table: str | Path, search_metric: str = "cifar10valid_valid_acc",
                 report_metric: str = "cifar10_test_acc"):
        self.path = Path(table)
        self.search_metric, self.report_metric = search_metric, report_metric
        self.rows = self._load()

    def _load(self) -> dict[str, tuple[float, float]]:
        parse = create_space("nb201").parse
        try:
            fh = open(self.path, newline="")
        except OSError as exc:
            raise TabularError(f"{self.path}: cannot read the accuracy table ({exc.strerror}); expected the "
                               "NAS-Bench-201 format of ../shared/data/nb201_accuracy.csv") from None
        rows: dict[str, tuple[float, float]] = {}
        with fh:
            reader = csv.DictReader(fh)
            for column in ("arch_str", self.search_metric, self.report_metric):
                if column not in (reader.fieldnames or []):
                    raise TabularError(f"{self.path}:1: missing column {column!r}; found {reader.fieldnames}")
            for row in reader:
                where = f"{self.path}:{reader.line_num}"
                try:
                    arch = parse(row["arch_str"]).arch_str
                    values = (float(row[self.search_metric]) / 100, float(row[self.report_metric]) / 100)
                except (NasError, TypeError, ValueError) as exc:
                    raise TabularError(f"{where}: {exc}") from None
                if not all(math.isfinite(v) and 0 <= v <= 1 for v in values):
                    raise TabularError(f"{where}: accuracies must be percentages in [0, 100]")
                rows[arch] = values
        if not rows:
            raise TabularError(f"{self.path}: no rows")
        return rows

    def evaluate(self, space: SearchSpace, config: ArchConfig, budget: int, seed: int) -> EvalResult:
        if space.name != "nb201":
            raise TabularError(f"the tabular evaluator knows only the nb201 space, not {space.name!r}")
        try:
            val, test = self.rows[config.arch_str]
        except KeyError:
            raise TabularError(f"{config.arch_str} is not in {self.path}") from None
        return EvalResult(val, self.TABLE_EPOCHS, 0.0, test_accuracy=test,
                          extra={"search_metric": self.search_metric, "report_metric": self.report_metric})
