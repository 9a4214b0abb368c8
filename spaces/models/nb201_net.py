"""NAS-Bench-201 network as a torch model, built from ``spaces.nb201.live_edges``.

Shapes below are for a 32x32 input with the standard channels (16, 32, 64).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["NB201Net", "Cell", "ResidualReduction", "ReLUConvBN"]


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias, "same" padding) -> BN (affine)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class ResidualReduction(nn.Module):
    """NAS-Bench-201's stride-2 basic block between stages (its ``ResNetBasicblock``)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)  # (N, c_out, H/2, W/2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)  # (N, c_out, H/2, W/2)
        self.shortcut = nn.Sequential(  # (N, c_in, H, W) -> (N, c_out, H/2, W/2)
            nn.AvgPool2d(2, stride=2),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


def make_edge_op(op: str, channels: int) -> nn.Module:
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"no module for edge op {op!r}")  # "none" edges are pruned before this


class Cell(nn.Module):
    """Node j = sum of op(node i) over the live edges i -> j; the output is node 3.

    ``edges`` are ``(source, target, op)``, ordered by target, without ``none``
    edges. With no live edge the cell outputs zeros (costing no op).
    """

    def __init__(self, edges: Sequence[tuple[int, int, str]], channels: int, num_nodes: int = 4):
        super().__init__()
        self.sources = [src for src, _, _ in edges]
        self.targets = [dst for _, dst, _ in edges]
        self.ops = nn.ModuleList(make_edge_op(op, channels) for _, _, op in edges)
        self.num_nodes = num_nodes

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H, W)
        nodes: list[torch.Tensor | None] = [x] + [None] * (self.num_nodes - 1)
        for src, dst, op in zip(self.sources, self.targets, self.ops):
            out = op(nodes[src])
            nodes[dst] = out if nodes[dst] is None else nodes[dst] + out
        output = nodes[-1]
        return torch.zeros_like(x) if output is None else output


class NB201Net(nn.Module):
    def __init__(self, cell_edges: Sequence[tuple[int, int, str]], num_classes: int = 10,
                 in_chans: int = 3, stage_channels: Sequence[int] = (16, 32, 64), cells_per_stage: int = 5):
        super().__init__()
        c = stage_channels[0]
        self.stem = nn.Sequential(nn.Conv2d(in_chans, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        blocks: list[nn.Module] = []
        for stage, channels in enumerate(stage_channels):
            if stage:
                blocks.append(ResidualReduction(c, channels))  # halves H and W
            blocks.extend(Cell(cell_edges, channels) for _ in range(cells_per_stage))
            c = channels
        self.cells = nn.Sequential(*blocks)  # (N, 16, 32, 32) -> (N, 64, 8, 8)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1))  # (N, 64, 1, 1)
        self.classifier = nn.Linear(c, num_classes)  # (N, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cells(self.stem(x))
        return self.classifier(self.head(x).flatten(1))
