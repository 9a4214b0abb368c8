"""Short trainings: AdamW or SGD, cosine schedule, label smoothing, light augmentation.

A ``Trainer`` trains in rungs (``train_until(epochs)`` can be called again with
more epochs), which is what successive halving needs: the cosine schedule is
laid over the largest budget so a continued run equals an uninterrupted one.
Accuracy is measured on the validation split; the test split is only touched
by ``finalize``.
"""

from __future__ import annotations

import logging
import math
import time
import weakref

import numpy as np

from search.errors import SearchError
from search.pixels import Normalization, to_model_input
from search.training.datasets import ImageData, Split
from search.training.distillation import Distillation
from search.training.settings import TrainingError, TrainSettings

__all__ = ["Trainer", "prepare_images", "model_pixels", "accuracy", "resolve_device"]

log = logging.getLogger(__name__)


# (id of a split's images, resolution, channels) -> (weak reference to the images, their pixels): a worker
# trains many architectures at one resolution, and Pillow resizes image by image
_PIXELS: dict[tuple[int, int, int], tuple[weakref.ref, np.ndarray]] = {}
_PIXELS_KEPT = 2


def model_pixels(split: Split, resolution: int, in_chans: int) -> np.ndarray:
    """uint8 ``(N, C, R, R)``: the split as a shipped model file takes it (``search.pixels``); the caller
    must not write to it."""
    key = (id(split.images), resolution, in_chans)
    hit = _PIXELS.get(key)
    if hit is not None and hit[0]() is split.images:
        return hit[1]
    pixels = to_model_input(split.images, in_chans, split.images.shape[2], resolution)
    while len(_PIXELS) >= _PIXELS_KEPT:
        _PIXELS.pop(next(iter(_PIXELS)))
    _PIXELS[key] = (weakref.ref(split.images), pixels)
    return pixels


def prepare_images(split: Split, resolution: int, in_chans: int, normalization: Normalization):
    """The split as the torch model takes it, standardised with the training split's statistics
    (done once, not per batch); and its labels."""
    import torch

    from search.training.standardise import standardise

    pixels = torch.from_numpy(model_pixels(split, resolution, in_chans))
    return standardise(pixels, normalization).contiguous(), torch.from_numpy(split.labels)


def _augment(x, generator, flip: bool):
    """Random translation by up to 1/8 of the side (pad + crop), and flips where valid."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    pad = max(1, h // 8)
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    # random draws come from the CPU generator (the same on any device), then move to the data
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None].expand(n, x.shape[1], h, w + 2 * pad)
    out = padded.gather(2, rows.to(x.device))
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :].expand(n, x.shape[1], h, w)
    out = out.gather(3, cols.to(x.device))
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        out[mask] = out[mask].flip(-1)
    return out


def resolve_device(name: str):
    """``auto``: CUDA where present (a Ray task with a GPU share sees it), else CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise SearchError(f"unknown torch device {name!r}: {exc}") from None


def accuracy(model, images, labels, batch_size: int = 256) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            logits = model(images[start:start + batch_size])
            correct += int((logits.argmax(1) == labels[start:start + batch_size]).sum())
    return correct / max(1, len(labels))


class Trainer:
    """Train ``model`` on ``data`` at ``resolution``; call ``train_until`` with growing epoch counts."""

    def __init__(self, model, data: ImageData, resolution: int, settings: TrainSettings,
                 max_epochs: int | None = None, distill: Distillation | None = None):
        import torch

        torch.set_num_threads(settings.threads)
        torch.manual_seed(settings.seed)
        self.device = resolve_device(settings.device)
        self.model, self.settings, self.data = model.to(self.device), settings, data
        self.distill = distill
        if distill is not None:
            distill.teacher.to(self.device).eval()
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.normalization = data.normalization
        self.x_train, self.y_train = (t.to(self.device) for t in prepare_images(
            data.train, resolution, data.in_chans, self.normalization))
        self.x_val, self.y_val = (t.to(self.device) for t in prepare_images(
            data.val, resolution, data.in_chans, self.normalization))
        self.max_epochs = max(max_epochs or settings.epochs, 1)
        steps_per_epoch = math.ceil(len(self.y_train) / settings.batch_size)
        self.total_steps = steps_per_epoch * self.max_epochs
        if settings.optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr,
                                               weight_decay=settings.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=0.9, nesterov=True,
                                             weight_decay=settings.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=settings.lr, total_steps=self.total_steps, pct_start=0.15,
            anneal_strategy="cos")
        self.loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
        self.epochs_done = 0
        self.train_seconds = 0.0
        self.history: list[float] = []
        self.last_loss = math.nan

    def train_until(self, epochs: int) -> float:
        """Train up to ``epochs`` in total; returns the validation accuracy."""
        import torch

        epochs = min(epochs, self.max_epochs)
        start = time.perf_counter()
        n = len(self.y_train)
        bs = self.settings.batch_size
        while self.epochs_done < epochs:
            self.model.train()
            order = torch.randperm(n, generator=self.generator)
            for i in range(0, n, bs):
                idx = order[i:i + bs].to(self.device)
                x = self.x_train[idx]
                if self.settings.augment:
                    x = _augment(x, self.generator, self.data.flip)
                logits = self.model(x)
                loss = self.loss_fn(logits, self.y_train[idx])
                if self.distill is not None:
                    loss = self.distill.loss(logits, x, loss)
                if not torch.isfinite(loss):
                    raise TrainingError(f"non-finite loss ({loss.item()}) in epoch {self.epochs_done + 1}")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.scheduler.step()
                self.last_loss = loss.item()
            self.epochs_done += 1
            self.history.append(accuracy(self.model, self.x_val, self.y_val))
            log.debug("epoch %d: loss %.4f val %.4f", self.epochs_done, self.last_loss, self.history[-1])
        self.train_seconds += time.perf_counter() - start
        return self.history[-1] if self.history else 0.0

    def save(self, path) -> None:
        """Everything a continued training needs: weights, optimizer, schedule, RNG, progress."""
        import torch

        torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(), "generator": self.generator.get_state(),
                    "epochs_done": self.epochs_done, "max_epochs": self.max_epochs,
                    "train_seconds": self.train_seconds, "history": list(self.history),
                    "last_loss": self.last_loss}, path)

    def load(self, path) -> None:
        """Continue from ``save``'s file (tensors and plain values only: ``weights_only=True``)."""
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["max_epochs"] != self.max_epochs:
            raise TrainingError(f"{path}: checkpoint of a {state['max_epochs']}-epoch schedule, "
                                f"this training runs {self.max_epochs} epochs")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        self.epochs_done = int(state["epochs_done"])
        self.train_seconds = float(state["train_seconds"])
        self.history = [float(a) for a in state["history"]]
        self.last_loss = float(state["last_loss"])
