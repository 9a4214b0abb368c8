"""Image datasets for the short trainings: in memory, split train / validation / test.

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images), the embedded default;
- ``mnist`` / ``fashion_mnist``: IDX files in a folder (gzipped or not). With
  only the 10k test files (as in ../shared/data/mnist) that set is split;
- ``cifar10``: the CIFAR-10 "python version" batches in a folder, read with a
  restricted unpickler that can only rebuild plain containers and numpy arrays;
- ``imagefolder``: one sub-folder per class of image files.

Images are uint8 ``(N, C, H, W)``; models resize them to their own input
resolution. Splits are stratified and seeded; the test split is never used by
the search.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import io
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.errors import SearchError
from search.pixels import Normalization
from spaces import UnknownNameError

__all__ = ["ImageData", "Split", "DATASETS", "load_dataset", "DatasetError", "SealedSplitError"]

log = logging.getLogger(__name__)
DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "imagefolder")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class DatasetError(SearchError):
    """A dataset is missing or malformed; the message says what is expected where."""


class SealedSplitError(SearchError):
    """The test split was read while choices were still being made."""


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)


class _SealedSplit:
    """A split no one may read yet: finalize makes every choice with the test split sealed."""

    def __init__(self, size: int):
        self._size = size

    def __len__(self) -> int:
        return self._size

    def __getattr__(self, name: str):
        if name.startswith("__"):  # copy and pickle probe for hooks: this split has none
            raise AttributeError(name)
        raise SealedSplitError(f"the test split was read ({name}) before every choice was made: choices are "
                               "made on the validation split, the test split is evaluated once at the end")


@dataclass(frozen=True)
class ImageData:
    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    flip: bool  # horizontal flips are a valid augmentation (not for digits)
    class_names: tuple[str, ...] = ()  # the dataset's own names, where it has them

    @property
    def in_chans(self) -> int:
        return int(self.train.images.shape[1])

    @property
    def native_size(self) -> int:
        return int(self.train.images.shape[2])

    @property
    def labels(self) -> tuple[str, ...]:
        """A name per class: the dataset's, else the class index."""
        return self.class_names or tuple(str(i) for i in range(self.num_classes))

    @functools.cached_property
    def normalization(self) -> Normalization:
        """Statistics of the training split alone; every split is standardised with them."""
        return Normalization.of(self.train.images)

    def with_sealed_test(self) -> ImageData:
        """This data with a test split that raises ``SealedSplitError`` when read."""
        sealed = dataclasses.replace(self, test=_SealedSplit(len(self.test)))
        sealed.__dict__["normalization"] = self.normalization
        return sealed


def _stratified_split(images: np.ndarray, labels: np.ndarray, fractions: tuple[float, ...], seed: int
                      ) -> list[Split]:
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        bounds = np.round(np.cumsum((0.0, *fractions)) / sum(fractions) * len(idx)).astype(int)
        for i in range(len(fractions)):
            parts[i].append(idx[bounds[i]:bounds[i + 1]])
    out = []
    for chunks in parts:
        idx = rng.permutation(np.concatenate(chunks))
        out.append(Split(images[idx], labels[idx].astype(np.int64)))
    return out


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.clip(np.rint(bunch.images * (255 / 16)), 0, 255).astype(np.uint8)[:, None]
    return images, bunch.target.astype(np.int64)


def _read_maybe_gzip(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from None


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format): magic, dims, then uint8 data."""
    raw = _read_maybe_gzip(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(dims)):
        raise DatasetError(f"{path}: size does not match its header dims {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _idx_folder(folder: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    """(train or None, test) arrays from an MNIST-layout folder."""
    sets = {}
    for prefix in ("train", "t10k"):
        images, labels = (_find(folder, f"{prefix}-images-idx3-ubyte"),
                          _find(folder, f"{prefix}-labels-idx1-ubyte"))
        if images and labels:
            x, y = read_idx(images), read_idx(labels)
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise DatasetError(f"{folder}: {images.name} and {labels.name} do not match "
                                   f"(shapes {x.shape}, {y.shape})")
            sets[prefix] = (x[:, None], y.astype(np.int64))
    if "t10k" not in sets and "train" not in sets:
        raise DatasetError(f"{folder}: expected MNIST IDX files t10k-images-idx3-ubyte[.gz] and "
                           "t10k-labels-idx1-ubyte[.gz] (and optionally train-*)")
    return sets.get("t10k") or sets["train"], sets.get("train") if "t10k" in sets else None


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, bytes and numpy arrays only: a hostile file cannot run code."""

    ALLOWED = {(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
               for name in ("_reconstruct", "scalar")} | {("numpy", "ndarray"), ("numpy", "dtype"),
                                                          ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
        data = np.asarray(batch["data"] if "data" in batch else batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch.get("labels", batch.get(b"labels")), dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError, AttributeError) as exc:
        raise DatasetError(f"{path}: not a CIFAR-10 python batch ({exc})") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetError(f"{path}: expected 'data' of shape (N, 3072) and N labels")
    return data.reshape(-1, 3, 32, 32), labels


def _cifar10(folder: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    train_files = sorted(folder.glob("data_batch_*"))
    if not train_files or not (folder / "test_batch").is_file():
        raise DatasetError(f"{folder}: expected CIFAR-10 python batches data_batch_1..5 and test_batch")
    parts = [_cifar_batch(p) for p in train_files]
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    return train, _cifar_batch(folder / "test_batch")


def _image_folder(folder: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DatasetError(f"{folder}: expected one sub-folder per class (at least 2), found {len(classes)}")
    images, labels = [], []
    for label, cls in enumerate(classes):
        files = sorted(p for p in (folder / cls).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DatasetError(f"{folder / cls}: no images ({', '.join(IMAGE_SUFFIXES)})")
        for path in files:
            try:
                with Image.open(path) as img:
                    img = img.convert("RGB").resize((size, size), Image.BILINEAR)
                    images.append(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
            except (UnidentifiedImageError, OSError) as exc:
                raise DatasetError(f"{path}: unreadable image ({exc})") from None
            labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes


def load_dataset(name: str, root: str | Path | None = None, seed: int = 0, image_size: int = 32) -> ImageData:
    """Load ``name`` (from ``root`` where it needs files) and split it (train 60 / val 20 / test 20 of what
    has no official split; an official test split is kept as the test split)."""
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, DATASETS)
    folder = Path(root) if root is not None else None
    if name != "digits":
        if folder is None:
            raise DatasetError(f"dataset {name!r} needs --data-dir (a folder of its files)")
        if not folder.is_dir():
            raise DatasetError(f"{folder}: no such folder (dataset {name!r})")
    flip = name in ("cifar10", "imagefolder")
    names = {"fashion_mnist": FASHION_CLASSES, "cifar10": CIFAR10_CLASSES}.get(name, ())
    if name == "digits":
        images, labels = _digits()
        train, val, test = _stratified_split(images, labels, (0.6, 0.2, 0.2), seed)
    elif name in ("mnist", "fashion_mnist"):
        test_set, train_set = _idx_folder(folder)
        if train_set is None:  # only one set: split it three ways
            train, val, test = _stratified_split(*test_set, (0.6, 0.2, 0.2), seed)
        else:
            train, val = _stratified_split(*train_set, (0.8, 0.2), seed)
            test = Split(*test_set)
    elif name == "cifar10":
        train_set, test_set = _cifar10(folder)
        train, val = _stratified_split(*train_set, (0.9, 0.1), seed)
        test = Split(*test_set)
    else:
        images, labels, names = _image_folder(folder, image_size)
        train, val, test = _stratified_split(images, labels, (0.6, 0.2, 0.2), seed)
    num_classes = int(max(train.labels.max(), val.labels.max(), test.labels.max()) + 1)
    log.info("dataset %s: %d train, %d val, %d test, %d classes", name, len(train), len(val), len(test),
             num_classes)
    return ImageData(name, train, val, test, num_classes, flip, tuple(names))
