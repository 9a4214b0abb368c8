"""What finalize does: ``FinalizeSettings``, validated when made."""

from __future__ import annotations

from dataclasses import dataclass

from search.errors import SearchError
from spaces import UnknownNameError

__all__ = ["FinalizeSettings", "COMPRESSIONS", "QAT_MODES", "CALIBRATIONS"]

COMPRESSIONS = ("distill", "quantize", "prune", "lowrank")
QAT_MODES = ("auto", "always", "never")
CALIBRATIONS = ("minmax", "percentile", "entropy")


@dataclass(frozen=True)
class FinalizeSettings:
    study: str
    storage: str | None = None
    runs_dir: str = "runs"
    top: int = 2
    teacher: str = "auto"
    epochs: int = 4
    compress: tuple[str, ...] = ("distill", "quantize")
    calibration: str = "minmax"
    calibration_images: int = 128  # training images int8 calibration sees
    teacher_resolution: int | None = None  # a timm teacher's input side; None: the study's best trial's
    alpha: float = 0.7
    temperature: float = 4.0
    tolerance: float = 0.01
    # quantization-aware fine-tuning: auto (when int8 loses more than tolerance), always, never
    qat: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in self.compress:
            if name not in COMPRESSIONS:
                raise UnknownNameError("compression", name, COMPRESSIONS)
        for name in ("top", "epochs", "calibration_images") + (
                ("teacher_resolution",) if self.teacher_resolution is not None else ()):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SearchError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.calibration not in CALIBRATIONS:
            raise SearchError("--calibration must be minmax, percentile or entropy, "
                              f"got {self.calibration!r}")
        if self.qat not in QAT_MODES:
            raise UnknownNameError("qat mode", self.qat, QAT_MODES)
        if not 0 <= self.tolerance < 1:
            raise SearchError(f"--tolerance must be in [0, 1), got {self.tolerance!r}")
