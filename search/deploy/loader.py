"""Load a finalized model folder and classify images with it, preprocessed as training did.

    from search.deploy import load_model
    model = load_model("runs/STUDY/final/trial-00003")
    for p in model.predict(["a.png", "b.jpg"]):
        print(p.label, p.probability)

The folder's ``model_card.json`` holds the input contract (``search.pixels``):
the shipped file takes uint8 ``(1, C, R, R)``; its graph standardises. Here an
image of any size and mode is turned into that: channels matched (Pillow's
conversion for files, the same luma for arrays), resized to the dataset's side
and then to the model's, as training did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from search.errors import SearchError
from search.pixels import match_channels, to_model_input

__all__ = ["load_model", "LoadedModel", "Prediction", "DeployError"]

CARD = "model_card.json"


class DeployError(SearchError):
    """A model folder or an input that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Prediction:
    index: int  # the class index the model outputs
    label: str  # its name from the dataset
    probabilities: np.ndarray  # softmax over the classes, in index order

    @property
    def probability(self) -> float:
        return float(self.probabilities[self.index])


def _read_card(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise DeployError(f"{folder}: no such model folder")
    try:
        card = json.loads((folder / CARD).read_text())
    except OSError:
        raise DeployError(f"{folder}: not a model folder (no {CARD}; python -m search finalize writes "
                          "one per finalized trial)") from None
    except json.JSONDecodeError as exc:
        raise DeployError(f"{folder / CARD}: not JSON ({exc})") from None
    if not isinstance(card, dict) or not isinstance(card.get("input"), dict):
        raise DeployError(f"{folder / CARD}: no input contract (a card written before models took raw "
                          "pixels: finalize the study again)")
    return card


def _shipped_file(folder: Path, card: dict[str, Any]) -> Path:
    files = card.get("files") or {}
    chosen = [name for name, f in files.items() if f.get("variant") == card.get("shipped")]
    if not chosen or not (folder / chosen[0]).is_file():
        raise DeployError(f"{folder}: the shipped variant {card.get('shipped')!r} has no file here "
                          f"(the card lists {sorted(files)})")
    return folder / chosen[0]


class LoadedModel:
    """A shipped model and its input contract; ``predict`` takes images, ``labels`` names the classes."""

    def __init__(self, folder: Path, card: dict[str, Any], path: Path, threads: int | None = None):
        import onnxruntime as ort

        self.folder, self.card, self.path, self.contract = folder, card, path, card["input"]
        self.labels: list[str] = list(self.contract["class_names"])
        self.in_chans = int(self.contract["shape"][1])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or int(
            (card.get("device") or {}).get("measurement", {}).get("threads") or 1)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
            raise DeployError(f"{path}: onnxruntime cannot load it ({exc})") from None
        self._input = self.session.get_inputs()[0].name

    def pixels(self, image: Any) -> np.ndarray:
        """One image (a path, a Pillow image, or a uint8 array H x W or H x W x C) as the file takes it."""
        c = self.contract
        chw = _as_chw(image, self.in_chans)
        return to_model_input(chw[None], self.in_chans, int(c["native_size"]), int(c["resolution"]))

    def predict(self, images: Any) -> list[Prediction]:
        """Classify one image or a sequence of them (paths, Pillow images, uint8 arrays)."""
        many = images if isinstance(images, (list, tuple)) else [images]
        out = []
        for image in many:
            logits = self.session.run(None, {self._input: self.pixels(image)})[0][0].astype(np.float64)
            probabilities = np.exp(logits - logits.max())
            probabilities /= probabilities.sum()
            index = int(probabilities.argmax())
            out.append(Prediction(index, self.labels[index], probabilities))
        return out


def _as_chw(image: Any, in_chans: int) -> np.ndarray:
    """uint8 (C, H, W) with ``in_chans`` channels, from a path, a Pillow image or an array."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as img:
                img.load()
                return _from_pil(img, in_chans)
        except (UnidentifiedImageError, OSError) as exc:
            raise DeployError(f"{image}: not a readable image ({exc})") from None
    if isinstance(image, Image.Image):
        return _from_pil(image, in_chans)
    if isinstance(image, np.ndarray):
        return _from_array(image, in_chans)
    raise DeployError(f"expected an image file path, a Pillow image or a uint8 array, got "
                      f"{type(image).__name__}")


def _from_pil(img: Any, in_chans: int) -> np.ndarray:
    """Pillow's own conversion (palette, alpha and 16-bit modes included), as image folders were read."""
    pixels = np.asarray(img.convert("L" if in_chans == 1 else "RGB"), dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def _from_array(array: np.ndarray, in_chans: int) -> np.ndarray:
    if array.dtype != np.uint8:
        raise DeployError(f"expected uint8 pixels 0-255, got a {array.dtype} array (scale and cast it first)")
    if array.ndim == 2:
        chw = array[None]
    elif array.ndim == 3 and array.shape[2] in (1, 3, 4):
        chw = array.transpose(2, 0, 1)[:3]
    else:
        raise DeployError(f"expected one image as an H x W or H x W x C (C = 1, 3 or 4) array, got shape "
                          f"{array.shape}; give a batch as a list")
    if min(chw.shape[1:]) < 1:
        raise DeployError(f"an empty image (shape {array.shape})")
    return match_channels(chw[None], in_chans)[0]


def load_model(folder: str | Path, threads: int | None = None) -> LoadedModel:
    """The shipped model of a finalized folder (``model_card.json`` says which file), ready to classify."""
    folder = Path(folder)
    card = _read_card(folder)
    return LoadedModel(folder, card, _shipped_file(folder, card), threads)

