from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from search.pixels import to_model_input
from search.training.datasets import DatasetError, load_dataset, read_idx
from spaces import UnknownNameError


def _write_idx(path, array: np.ndarray, gz: bool = False):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def test_digits_splits_are_stratified_disjoint_and_seeded():
    a, b = load_dataset("digits", seed=1), load_dataset("digits", seed=1)
    assert np.array_equal(a.train.labels, b.train.labels)
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    assert a.num_classes == 10 and a.in_chans == 1 and not a.flip
    assert set(np.unique(a.val.labels)) == set(range(10))
    assert a.train.images.dtype == np.uint8 and a.train.images.max() == 255


def test_mnist_from_shared_test_set(shared_data):
    data = load_dataset("mnist", shared_data / "mnist")
    assert len(data.train) + len(data.val) + len(data.test) == 10_000
    assert data.train.images.shape[1:] == (1, 28, 28)


def test_idx_folder_with_train_and_test(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 50), ("t10k", 20)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 6, 6)), gz=True)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 5)
    data = load_dataset("fashion_mnist", tmp_path)
    assert len(data.test) == 20 and len(data.train) + len(data.val) == 50 and data.num_classes == 5


@pytest.mark.parametrize("content, message", [(b"\x00\x00\x0c\x01", "magic"),
                                              (b"\x00\x00\x08\x01\x00\x00\x00\x05ab", "size")])
def test_malformed_idx_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        read_idx(path)


def test_missing_or_unknown_datasets(tmp_path):
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        load_dataset("mnist", tmp_path / "nope")
    with pytest.raises(DatasetError, match="--data-dir"):
        load_dataset("cifar10")
    with pytest.raises(UnknownNameError, match="imagefolder"):
        load_dataset("imagenet")


def test_cifar10_batches_and_a_hostile_pickle_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("data_batch_1", 30), ("data_batch_2", 30), ("test_batch", 20)):
        batch = {"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8), "labels": list(np.arange(n) % 10)}
        (tmp_path / name).write_bytes(pickle.dumps(batch, protocol=2))
    data = load_dataset("cifar10", tmp_path)
    assert data.train.images.shape[1:] == (3, 32, 32) and len(data.test) == 20 and data.flip
    assert data.labels[:2] == ("airplane", "automobile")

    class Evil:
        def __reduce__(self):
            return (exec, ("open('pwned', 'w')",))

    (tmp_path / "test_batch").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DatasetError, match="refusing to load builtins.exec"):
        load_dataset("cifar10", tmp_path)


def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    data = load_dataset("imagefolder", tmp_path, image_size=16)
    assert data.num_classes == 2 and data.train.images.shape[1:] == (3, 16, 16)
    assert data.labels == ("cat", "dog")
    # a file through the deploy path (search.pixels, plane by plane) is exactly what the dataset holds
    raw = np.asarray(Image.open(tmp_path / "cat" / "0.png").convert("RGB")).transpose(2, 0, 1)[None]
    held = np.concatenate([data.train.images, data.val.images, data.test.images])
    assert (held == to_model_input(raw, 3, 16, 16)).all(axis=(1, 2, 3)).any()
    (tmp_path / "dog" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="broken.png"):
        load_dataset("imagefolder", tmp_path)
