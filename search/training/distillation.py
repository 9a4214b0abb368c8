"""Hinton distillation: the loss a student trains with when a teacher is given."""

from __future__ import annotations

from dataclasses import dataclass

from search.errors import SearchError

__all__ = ["Distillation"]


@dataclass(frozen=True)
class Distillation:
    """Hinton logit distillation: loss = alpha * T^2 * KL(student/T || teacher/T) + (1 - alpha) * CE."""

    teacher: object  # a torch module; kept in eval mode, never updated
    resolution: int  # the teacher's input side; the student's augmented batch is resized to it
    alpha: float = 0.7
    temperature: float = 4.0

    def __post_init__(self) -> None:
        if not 0 <= self.alpha <= 1:
            raise SearchError(f"distillation alpha must be in [0, 1], got {self.alpha!r}")
        if not self.temperature > 0:
            raise SearchError(f"distillation temperature must be positive, got {self.temperature!r}")

    def loss(self, student_logits, x, hard_loss):
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            if x.shape[-1] != self.resolution:
                x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                                  align_corners=False)
            teacher_logits = self.teacher(x)
        t = self.temperature
        soft = F.kl_div(F.log_softmax(student_logits / t, dim=1), F.log_softmax(teacher_logits / t, dim=1),
                        reduction="batchmean", log_target=True) * (t * t)
        return self.alpha * soft + (1 - self.alpha) * hard_loss
