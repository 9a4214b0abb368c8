"""Raw pixels to a model's input: the one definition training and a shipped model's loader share.

A model trains on, and a shipped model file takes, uint8 ``(N, C, H, W)`` at
its input resolution. Getting there from an image is the same two steps
everywhere: match the channels (grey to RGB by repetition, RGB to grey by
Pillow's ITU-R 601 luma), then resize with Pillow's bilinear filter. The
standardisation that follows (``Normalization``, statistics of the training
split) is the first thing the exported graph does, so a caller never applies it.

This module needs only numpy and Pillow: ``search.deploy`` runs on a machine
with nothing else (and onnxruntime).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Normalization", "match_channels", "resize", "to_model_input", "input_contract", "RESIZE_METHOD"]

RESIZE_METHOD = "Pillow bilinear"
# Pillow's RGB -> L weights (x 65536, rounded): convert("L") on a file and match_channels on an array agree
_LUMA = np.array([19595, 38470, 7471], dtype=np.uint32)


@dataclass(frozen=True)
class Normalization:
    """Per-channel mean and std of pixel / 255 over the training split; the graph standardises with them."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of(cls, images: np.ndarray) -> Normalization:
        """Statistics of uint8 ``(N, C, H, W)`` images (the training split, as the dataset holds it)."""
        total, squares = np.zeros(images.shape[1]), np.zeros(images.shape[1])
        for start in range(0, len(images), 2048):  # in chunks: a float copy of CIFAR-10 would be 1 GB
            x = images[start:start + 2048].astype(np.float64) / 255.0
            total += x.sum(axis=(0, 2, 3))
            squares += (x * x).sum(axis=(0, 2, 3))
        count = len(images) * images.shape[2] * images.shape[3]
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
        return cls(tuple(round(float(v), 6) for v in mean),
                   tuple(round(float(max(v, 1e-3)), 6) for v in std))

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> Normalization:
        return cls(tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]))


def match_channels(images: np.ndarray, in_chans: int) -> np.ndarray:
    """uint8 ``(N, C, H, W)`` with ``in_chans`` channels: grey repeated to RGB, RGB to Pillow's luma."""
    have = images.shape[1]
    if have == in_chans:
        return images
    if have == 1:
        return np.repeat(images, in_chans, axis=1)
    if in_chans == 1 and have in (3, 4):
        luma = np.tensordot(_LUMA, images[:, :3].astype(np.uint32), axes=([0], [1])) + 0x8000
        return (luma >> 16).astype(np.uint8)[:, None]
    raise ValueError(f"cannot turn {have}-channel images into {in_chans}-channel ones")


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(N, C, H, W)`` resized to ``size`` x ``size``, plane by plane, by Pillow's bilinear filter."""
    from PIL import Image

    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images
    out = np.empty((n, c, size, size), dtype=np.uint8)
    for i in range(n):
        for ch in range(c):
            plane = Image.fromarray(np.ascontiguousarray(images[i, ch]))  # 2-D uint8: mode L
            out[i, ch] = np.asarray(plane.resize((size, size), Image.BILINEAR))
    return out


def to_model_input(images: np.ndarray, in_chans: int, native_size: int, resolution: int) -> np.ndarray:
    """What a model takes, from uint8 ``(N, C, H, W)`` images of any size: channels matched, resized to
    the dataset's ``native_size`` (where the dataset itself resized, as image folders do), then to
    the model's ``resolution``."""
    images = match_channels(np.asarray(images, dtype=np.uint8), in_chans)
    if images.shape[2:] != (native_size, native_size):
        images = resize(images, native_size)
    return resize(images, resolution)


def input_contract(in_chans: int, native_size: int, resolution: int, normalization: Normalization,
                   class_names: list[str] | tuple[str, ...]) -> dict:
    """What a shipped model file takes and how images become it: the card's ``input`` section, which
    ``search.deploy`` reads."""
    return {"dtype": "uint8", "layout": "NCHW", "shape": [1, in_chans, resolution, resolution],
            "channels": "grey" if in_chans == 1 else "RGB", "resolution": resolution,
            "native_size": native_size,
            "resize": f"{RESIZE_METHOD}, to the dataset's {native_size}x{native_size} where an image "
                      f"differs (as the dataset was read), then to {resolution}x{resolution} "
                      "(as training did)",
            "normalization": {**normalization.to_dict(), "from": "the training split",
                              "applied": "inside the graph: (pixel / 255 - mean) / std"},
            "class_names": list(class_names)}
