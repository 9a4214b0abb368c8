"""Standardisation, the one definition: the trainer applies it to its tensors, and every exported graph
starts with it (``PixelInput``), so a shipped model file takes raw uint8 pixels."""

from __future__ import annotations

import torch
from torch import nn

from search.pixels import Normalization

__all__ = ["standardise", "PixelInput"]


def standardise(pixels: torch.Tensor, normalization: Normalization) -> torch.Tensor:
    """uint8 (or float 0..255) ``(N, C, H, W)`` -> float32 ``(pixels / 255 - mean) / std``."""
    mean = torch.tensor(normalization.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(normalization.std, dtype=torch.float32).view(1, -1, 1, 1)
    return (pixels.to(torch.float32) / 255.0 - mean.to(pixels.device)) / std.to(pixels.device)


class PixelInput(nn.Module):
    """``model`` behind its preprocessing: takes uint8 ``(N, C, H, W)`` at the model's resolution."""

    def __init__(self, model: nn.Module, normalization: Normalization):
        super().__init__()
        self.model, self.normalization = model, normalization

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(standardise(pixels, self.normalization))
