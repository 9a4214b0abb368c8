"""How a short training runs: ``TrainSettings``, validated when made, and the error a training raises."""

from __future__ import annotations

import math
from dataclasses import dataclass

from search.errors import SearchError

__all__ = ["TrainSettings", "TrainingError", "OPTIMIZERS"]

OPTIMIZERS = ("adamw", "sgd")


class TrainingError(SearchError):
    """A training went wrong in a way that is the trial's fault (NaN loss, diverged)."""


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 5
    # lr and batch chosen on digits' validation split with mobile_cnn: 1e-2 / 32 trained better than 3e-3 at
    # 24 and 32 px
    batch_size: int = 32
    lr: float = 1e-2
    weight_decay: float = 0.05
    optimizer: str = "adamw"
    label_smoothing: float = 0.1
    augment: bool = True
    seed: int = 0
    threads: int = 1
    device: str = "auto"  # "auto": CUDA where present, else CPU; or any torch device string

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise SearchError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        for name in ("epochs", "batch_size", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SearchError(f"{name} must be a positive integer, got {value!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise SearchError(f"lr must be positive, got {self.lr!r}")
        if not 0 <= self.label_smoothing < 1:
            raise SearchError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
