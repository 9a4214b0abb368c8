"""Torch model of the ``sparse_vit`` space: a small ViT with windowed attention.

Token layout inside the blocks: ``[global tokens (G) ; grid tokens (N)]``, the
grid tokens in row-major order of the ``grid x grid`` patch grid. Shapes:
B batch, T = G + N tokens, C dim, H heads, D = C / H head dim, w window side,
S = w * w tokens per window, K = (grid / w)^2 windows.

Sparse attention really computes less: windows are cut out by reshapes and
attended with batched matmuls on ``(B, K, H, S, D)``, never a masked dense
matrix. Explicit ``matmul`` + ``softmax`` (no SDPA) keeps the FLOP counter and
the ONNX export straightforward.
"""

from __future__ import annotations

import torch
from timm.layers import Mlp, PatchEmbed, trunc_normal_
from torch import nn

__all__ = ["SparseAttention", "SparseVitBlock", "SparseVitNet"]


class SparseAttention(nn.Module):
    """Multi-head self-attention: ``dense``, ``local`` (windows) or ``global`` (windows + global tokens)."""

    def __init__(self, dim: int, heads: int, kind: str = "dense", grid: int = 0, window: int = 0,
                 num_global: int = 0) -> None:
        super().__init__()
        if kind not in ("dense", "local", "global"):
            raise ValueError(f"unknown attention kind {kind!r}")
        if kind != "dense" and (window < 1 or grid % window):
            raise ValueError(f"window {window} must divide grid {grid}")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.kind, self.grid, self.window = kind, grid, window
        self.num_global = num_global if kind == "global" else 0
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, T, D)
        if self.kind == "dense":
            out = self._attend(q, k, v)  # (B, H, T, D)
            out = out.transpose(1, 2).reshape(B, T, C)
        else:
            out = self._windowed(q, k, v)  # (B, T, C)
        return self.proj(out)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """softmax(q k^T / sqrt(D)) v over the last two dims: (..., Q, D) x (..., K, D) -> (..., Q, D)."""
        scores = (q * self.scale) @ k.transpose(-2, -1)  # (..., Q, K)
        return scores.softmax(dim=-1) @ v

    def _windowed(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        B, H, T, D = q.shape
        G = self.num_global
        q_win = self._to_windows(q[:, :, G:])  # (B, K, H, S, D)
        k_win = self._to_windows(k[:, :, G:])
        v_win = self._to_windows(v[:, :, G:])
        if G:
            K = q_win.shape[1]
            k_glob = k[:, :, :G].unsqueeze(1).expand(B, K, H, G, D)  # (B, K, H, G, D)
            v_glob = v[:, :, :G].unsqueeze(1).expand(B, K, H, G, D)
            k_win = torch.cat([k_win, k_glob], dim=3)  # (B, K, H, S + G, D)
            v_win = torch.cat([v_win, v_glob], dim=3)
        grid_out = self._from_windows(self._attend(q_win, k_win, v_win))  # (B, N, C)
        if not G:
            return grid_out
        glob_out = self._attend(q[:, :, :G], k, v)  # (B, H, G, D): global queries see all T tokens
        glob_out = glob_out.transpose(1, 2).reshape(B, G, H * D)
        return torch.cat([glob_out, grid_out], dim=1)  # (B, T, C)

    def _to_windows(self, t: torch.Tensor) -> torch.Tensor:
        """(B, H, N, D) grid tokens -> (B, K, H, S, D) windows."""
        B, H, _, D = t.shape
        n_side, w = self.grid // self.window, self.window
        t = t.reshape(B, H, n_side, w, n_side, w, D)
        t = t.permute(0, 2, 4, 1, 3, 5, 6)  # (B, rows, cols, H, w, w, D)
        return t.reshape(B, n_side * n_side, H, w * w, D)

    def _from_windows(self, t: torch.Tensor) -> torch.Tensor:
        """(B, K, H, S, D) windows -> (B, N, C) grid tokens."""
        B, _, H, _, D = t.shape
        n_side, w = self.grid // self.window, self.window
        t = t.reshape(B, n_side, n_side, H, w, w, D)
        t = t.permute(0, 1, 4, 2, 5, 3, 6)  # (B, rows, w, cols, w, H, D)
        return t.reshape(B, self.grid * self.grid, H * D)


class SparseVitBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, attention: SparseAttention) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = attention
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden_features=dim * mlp_ratio, act_layer=nn.GELU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))  # (B, T, C)
        return x + self.mlp(self.norm2(x))


class SparseVitNet(nn.Module):
    """Patch embed + positional embedding (+ global tokens) -> blocks -> norm, mean, linear."""

    def __init__(self, config, num_classes: int = 10, in_chans: int = 3) -> None:
        super().__init__()
        c = config
        self.num_global = c.global_tokens
        self.patch_embed = PatchEmbed(img_size=c.resolution, patch_size=c.patch, in_chans=in_chans,
                                      embed_dim=c.dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, c.num_patches, c.dim))
        self.global_tokens = nn.Parameter(torch.zeros(1, c.global_tokens, c.dim)) if c.global_tokens else None
        self.blocks = nn.Sequential(*[
            SparseVitBlock(c.dim, c.heads, c.mlp_ratio,
                           SparseAttention(c.dim, c.heads, c.attention, c.grid, c.window, c.global_tokens))
            for _ in range(c.depth)
        ])
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        trunc_normal_(self.pos_embed, std=0.02)
        if self.global_tokens is not None:
            trunc_normal_(self.global_tokens, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, R, R) -> (B, G + N, C) tokens after the last block."""
        x = self.patch_embed(x) + self.pos_embed  # (B, N, C)
        if self.global_tokens is not None:
            x = torch.cat([self.global_tokens.expand(x.shape[0], -1, -1), x], dim=1)  # (B, G + N, C)
        return self.blocks(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x)[:, self.num_global:]  # (B, N, C) grid tokens only
        x = self.norm(x).mean(dim=1)  # (B, C)
        return self.head(x)  # (B, num_classes)
