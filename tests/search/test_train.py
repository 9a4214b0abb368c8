from __future__ import annotations

import pytest
import torch

from search.training.datasets import ImageData, load_dataset
from search.training.settings import TrainingError, TrainSettings
from search.training.trainer import Trainer
from spaces import NasError


def _tiny_digits() -> ImageData:
    data = load_dataset("digits")
    return data


def _small_cnn(in_chans=1, classes=10):
    return torch.nn.Sequential(
        torch.nn.Conv2d(in_chans, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(128, classes))


def _trainer(data, settings: TrainSettings, epochs: int) -> Trainer:
    """A small CNN from fixed initial weights, trained ``epochs`` of its schedule."""
    torch.manual_seed(0)
    trainer = Trainer(_small_cnn(), data, 16, settings)
    trainer.train_until(epochs)
    return trainer


def test_training_learns_and_continues_like_one_run():
    data = _tiny_digits()
    settings = TrainSettings(epochs=2, batch_size=64, seed=3)
    whole = _trainer(data, settings, 2)
    rungs = _trainer(data, settings, 1)
    rungs.train_until(2)
    assert rungs.history == whole.history  # a continued run equals an uninterrupted one
    assert whole.history[-1] > 0.3  # well above chance (0.1) after two epochs
    assert whole.epochs_done == 2 and whole.train_seconds > 0


def test_nan_loss_is_a_training_error():
    model = _small_cnn()
    with torch.no_grad():
        model[-1].weight.fill_(float("nan"))
    trainer = Trainer(model, _tiny_digits(), 16, TrainSettings(epochs=1))
    with pytest.raises(TrainingError, match="non-finite loss"):
        trainer.train_until(1)


@pytest.mark.parametrize("kw", [dict(optimizer="adam2"), dict(epochs=0), dict(lr=-1.0),
                                dict(label_smoothing=1.0)])
def test_bad_settings(kw):
    with pytest.raises(NasError):
        TrainSettings(**kw)


def test_checkpoint_resume_equals_an_uninterrupted_run(tmp_path):
    data = _tiny_digits()
    settings = TrainSettings(epochs=2, batch_size=64, seed=5)
    whole = _trainer(data, settings, 2)
    first = _trainer(data, settings, 1)
    path = tmp_path / "ckpt.pt"
    first.save(path)
    torch.manual_seed(123)  # a fresh process would start from other weights; the checkpoint must win
    resumed = Trainer(_small_cnn(), data, 16, settings)
    resumed.load(path)
    assert resumed.epochs_done == 1
    resumed.train_until(2)
    assert resumed.history == whole.history
    for a, b in zip(resumed.model.state_dict().values(), whole.model.state_dict().values()):
        assert torch.equal(a, b)


def test_checkpoint_of_another_budget_is_refused(tmp_path):
    data = _tiny_digits()
    trainer = Trainer(_small_cnn(), data, 16, TrainSettings(epochs=1, batch_size=64))
    trainer.train_until(1)
    trainer.save(tmp_path / "c.pt")
    other = Trainer(_small_cnn(), data, 16, TrainSettings(epochs=3, batch_size=64))
    with pytest.raises(TrainingError, match="schedule"):
        other.load(tmp_path / "c.pt")
