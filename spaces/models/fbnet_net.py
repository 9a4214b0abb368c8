"""FBNet (CIFAR setting) as a torch model, built from ``spaces.fbnet.block_plans``.

Shapes below are for a 32x32 input: 32 -> 32 (stages 1-2) -> 16 -> 8 -> 8 -> 4 -> 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["FBNet", "InvertedResidual", "ChannelShuffle", "ConvBN"]


class ConvBN(nn.Sequential):
    """Conv (no bias, "same" padding) -> BN -> optional ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 relu: bool = True):
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class ChannelShuffle(nn.Module):
    """Interleave the channels of ``groups`` groups (ShuffleNet)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.view(n, self.groups, c // self.groups, h, w)  # (N, G, C/G, H, W)
        return x.transpose(1, 2).reshape(n, c, h, w)  # (N, C, H, W), group-interleaved


class InvertedResidual(nn.Module):
    """1x1 (groups G) -> [shuffle] -> KxK depthwise (stride) -> 1x1 (groups G), + input if shapes match."""

    def __init__(self, c_in: int, c_out: int, kernel: int, expansion: int, groups: int, stride: int):
        super().__init__()
        mid = c_in * expansion
        self.expand = ConvBN(c_in, mid, 1, groups=groups)  # (N, mid, H, W)
        self.shuffle = ChannelShuffle(groups) if groups > 1 else nn.Identity()
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)  # (N, mid, H/s, W/s)
        self.project = ConvBN(mid, c_out, 1, groups=groups, relu=False)  # (N, c_out, H/s, W/s)
        self.residual = c_in == c_out and stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.shuffle(self.expand(x))))
        return x + out if self.residual else out


def make_block(plan: Any) -> nn.Module:
    """One searchable layer from a :class:`spaces.fbnet.BlockPlan`."""
    if plan.is_skip:
        return nn.Identity() if plan.keeps_shape else ConvBN(plan.c_in, plan.c_out, 1, plan.stride)
    return InvertedResidual(plan.c_in, plan.c_out, plan.kernel, plan.expansion, plan.groups, plan.stride)


class FBNet(nn.Module):
    def __init__(self, plans: Sequence[Any], num_classes: int = 10, in_chans: int = 3,
                 stem_channels: int = 16, head_channels: int = 1504):
        super().__init__()
        self.stem = ConvBN(in_chans, stem_channels, 3)  # (N, 16, 32, 32)
        self.blocks = nn.Sequential(*(make_block(p) for p in plans))  # (N, 352, 4, 4)
        self.head = ConvBN(plans[-1].c_out, head_channels, 1)  # (N, 1504, 4, 4)
        self.pool = nn.AdaptiveAvgPool2d(1)  # (N, 1504, 1, 1)
        self.classifier = nn.Linear(head_channels, num_classes)  # (N, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.pool(x).flatten(1))
