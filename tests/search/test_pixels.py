"""Raw pixels to a model's input: one definition for training, the exported graph and the loader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from search.pixels import Normalization, match_channels, resize
from search.training.datasets import ImageData, SealedSplitError, Split
from search.training.settings import TrainSettings
from search.training.standardise import PixelInput, standardise
from search.training.trainer import Trainer, prepare_images
from spaces import create_space


def _split(low: int, high: int, n: int = 40, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    return Split(rng.integers(low, high, (n, 1, 8, 8), dtype=np.uint8), np.arange(n, dtype=np.int64) % 2)


def _data() -> ImageData:
    """A dark training split, a bright validation split: statistics of one are far from the other's."""
    return ImageData("toy", _split(0, 100), _split(150, 255, seed=1), _split(0, 255, seed=2), 2, False)


def test_the_statistics_are_the_training_splits_and_standardise_every_split():
    data = _data()
    assert data.normalization == Normalization.of(data.train.images)
    x_train, _ = prepare_images(data.train, 8, 1, data.normalization)
    x_val, _ = prepare_images(data.val, 8, 1, data.normalization)
    assert abs(float(x_train.mean())) < 1e-4 and abs(float(x_train.std()) - 1) < 0.05
    assert float(x_val.mean()) > 2  # standardised with the dark training split's statistics, not its own


def test_a_trainer_trains_with_the_training_splits_statistics():
    data = _data()
    space = create_space("mobile_cnn", resolutions=(16,), widths=(0.5,), stems=(8,), heads=(64,),
                         depths=((1,),) * 6)
    model = space.build(space.extremes()[0], num_classes=2, in_chans=1)
    trainer = Trainer(model, data, 8, TrainSettings(epochs=1))
    assert trainer.normalization == data.normalization


def test_normalization_statistics_match_numpy_across_chunks():
    images = np.random.default_rng(0).integers(0, 256, (5000, 3, 4, 4), dtype=np.uint8)
    norm = Normalization.of(images)
    x = images / 255.0
    np.testing.assert_allclose(norm.mean, x.mean(axis=(0, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(norm.std, x.std(axis=(0, 2, 3)), atol=1e-6)
    assert Normalization.from_dict(norm.to_dict()) == norm


def test_the_graphs_first_op_is_the_trainings_standardisation():
    norm = Normalization((0.2,), (0.3,))
    pixels = torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8)
    model = torch.nn.Identity()
    assert torch.equal(PixelInput(model, norm)(pixels), standardise(pixels, norm))
    assert torch.allclose(standardise(pixels, norm), (pixels.float() / 255 - 0.2) / 0.3)


def test_rgb_to_grey_is_pillows_luma_and_grey_to_rgb_repeats():
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    grey = match_channels(rgb.transpose(2, 0, 1)[None], 1)[0, 0]
    assert np.array_equal(grey, np.asarray(Image.fromarray(rgb).convert("L")))
    assert match_channels(grey[None, None], 3).shape == (1, 3, 6, 7)
    with pytest.raises(ValueError, match="2-channel"):
        match_channels(np.zeros((1, 2, 4, 4), dtype=np.uint8), 3)


def test_resize_is_pillows_bilinear_per_plane():
    rgb = np.random.default_rng(1).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    ours = resize(rgb.transpose(2, 0, 1)[None], 9)[0].transpose(1, 2, 0)
    assert np.array_equal(ours, np.asarray(Image.fromarray(rgb).resize((9, 9), Image.BILINEAR)))


def test_a_sealed_test_split_cannot_be_read():
    import copy
    import pickle

    sealed = _data().with_sealed_test()
    assert len(copy.deepcopy(sealed).test) == len(pickle.loads(pickle.dumps(sealed)).test) == 40
    assert len(sealed.test) == 40 and sealed.normalization == _data().normalization
    with pytest.raises(SealedSplitError, match="before every choice was made"):
        np.asarray(sealed.test.images)
