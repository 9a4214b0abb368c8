"""The teacher finalize distills from: the study's best model trained longer, a timm model, or an export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.errors import SearchError
from search.finalize.settings import FinalizeSettings
from search.pixels import Normalization
from search.study.pareto import completed
from search.study.record import TrialRecord
from search.study.retrieve import load_exported_input, load_exported_model, load_trained_model
from search.study.storage import StudyHandle
from search.training.datasets import ImageData
from search.training.distillation import Distillation
from search.training.settings import TrainSettings
from search.training.trainer import Trainer, accuracy, prepare_images

__all__ = ["Teacher", "make_teacher", "train_more"]


@dataclass
class Teacher:
    model: Any
    resolution: int
    description: str
    val_accuracy: float


def train_more(model, data: ImageData, resolution: int, epochs: int, lr: float, seed: int,
               distill: Distillation | None = None) -> float:
    """Continue training ``model`` for ``epochs`` (a fresh one-cycle schedule at ``lr``); validation
    accuracy."""
    settings = TrainSettings(epochs=epochs, lr=lr, seed=seed)
    trainer = Trainer(model, data, resolution, settings, epochs, distill=distill)
    accuracy = trainer.train_until(epochs)
    model.cpu().eval()
    return accuracy


def make_teacher(spec: str, handle: StudyHandle, data: ImageData, settings: FinalizeSettings,
                 lr: float) -> Teacher:
    """``auto``, ``timm:NAME[=CHECKPOINT]`` or the folder of an exported model, ready to distill from."""
    if spec == "auto":
        return _best_trial_teacher(handle, data, settings, lr)
    if spec.startswith("timm:"):
        resolution = settings.teacher_resolution
        if resolution is None:  # the side the study's best architecture reads its images at
            cand, _, _ = _best_trial(handle)
            resolution = cand.space.resolution(cand.config)
        return _timm_teacher(spec, data, settings, lr, resolution)
    if spec and Path(spec).is_dir():
        return _exported_teacher(spec, data)
    raise SearchError(f"--teacher must be auto, timm:NAME[=CHECKPOINT] or the folder of an exported model "
                   f"(python -m search export), got {spec!r}")


def _best_trial(handle: StudyHandle):
    """(candidate, model, trial) of the study's most accurate trial on validation."""
    best = max(completed(handle.study), key=lambda t: (t.values[0], -t.number))
    return (*load_trained_model(handle, best), best)


def _best_trial_teacher(handle: StudyHandle, data: ImageData, settings: FinalizeSettings,
                        lr: float) -> Teacher:
    cand, model, best = _best_trial(handle)
    resolution = cand.space.resolution(cand.config)
    acc = train_more(model, data, resolution, settings.epochs, lr / 3, settings.seed)
    return Teacher(model, resolution, f"trial {best.number} ({TrialRecord.of(best).arch_str}), trained "
                                      f"{settings.epochs} more epochs", acc)


def _timm_teacher(spec: str, data: ImageData, settings: FinalizeSettings, lr: float,
                  resolution: int) -> Teacher:
    import timm
    import torch

    name, _, checkpoint = spec[5:].partition("=")
    try:
        model = timm.create_model(name, pretrained=False, num_classes=data.num_classes,
                                  in_chans=data.in_chans)
    except RuntimeError as exc:
        raise SearchError(f"--teacher {spec}: {exc}") from None
    how = ("trained here from scratch (model hubs are unreachable offline; give timm:NAME=PATH "
           "for local weights)")
    if checkpoint:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
        how = f"weights from {checkpoint}, fine-tuned here"
    acc = train_more(model, data, resolution, settings.epochs, lr, settings.seed)
    return Teacher(model, resolution, f"timm {name}, {how}", acc)


def _exported_teacher(spec: str, data: ImageData) -> Teacher:
    import torch

    space, config, model = load_exported_model(spec)
    resolution = space.resolution(config)
    contract = load_exported_input(spec)
    if contract and Normalization.from_dict(contract["normalization"]) != data.normalization:
        raise SearchError(f"--teacher {spec}: it trained on data standardised with "
                          f"{contract['normalization']['mean']} / {contract['normalization']['std']}, this "
                          f"study's training split gives {data.normalization.to_dict()}: not the same data")
    x_val, y_val = prepare_images(data.val, resolution, data.in_chans, data.normalization)
    try:
        with torch.no_grad():
            classes = model(x_val[:1]).shape[-1]
    except RuntimeError:
        classes = None
    if classes != data.num_classes:
        raise SearchError(f"--teacher {spec}: the model does not fit the study's data "
                          f"({data.in_chans} channel(s), {data.num_classes} classes)")
    return Teacher(model, resolution, f"exported model {spec} ({config.arch_str}), used as it is",
                   accuracy(model, x_val, y_val))
