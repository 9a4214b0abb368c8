"""The contract every evaluator passes, and each one's specifics."""

from __future__ import annotations

import pytest
import torch

from search.execution.evaluators import TabularError, TabularEvaluator, TrainingEvaluator
from search.training.datasets import load_dataset
from search.training.settings import TrainSettings
from spaces import create_space

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def _training():
    data = load_dataset("digits")
    space = create_space("mobile_cnn", resolutions=(16,), widths=(0.5,), heads=(256,))
    return TrainingEvaluator(data, TrainSettings(batch_size=64)), space, space.extremes()[0], 1


def _tabular(shared_data):
    space = create_space("nb201")
    return TabularEvaluator(shared_data / "nb201_accuracy.csv"), space, space.parse(ARCH), 200


@pytest.fixture(params=["training", "tabular"])
def setup(request, shared_data):
    return _training() if request.param == "training" else _tabular(shared_data)


def test_contract_result_ranges_and_determinism(setup):
    evaluator, space, config, budget = setup
    first = evaluator.evaluate(space, config, budget, seed=3)
    again = evaluator.evaluate(space, config, budget, seed=3)
    assert 0.0 <= first.val_accuracy <= 1.0
    assert first.epochs == budget and first.train_seconds >= 0
    assert again.val_accuracy == first.val_accuracy  # same seed, same result on CPU


def test_training_session_continues_rung_by_rung():
    evaluator, space, config, _ = _training()
    torch.manual_seed(0)
    session = evaluator.session(space, config, max_budget=2, seed=1)
    rung1 = session.advance(1)
    rung2 = session.advance(2)
    assert rung1.epochs == 1 and rung2.epochs == 2 and len(rung2.history) == 2
    assert rung2.history[0] == rung1.val_accuracy
    assert rung2.test_accuracy is None  # training never looks at the test split


def test_tabular_reads_the_published_table(shared_data):
    evaluator, space, config, _ = _tabular(shared_data)
    result = evaluator.evaluate(space, config, 1, seed=0)
    assert len(evaluator.rows) == 15625
    assert result.test_accuracy is not None and 0.5 < result.val_accuracy < 1.0
    best = max(test for _, test in evaluator.rows.values())
    assert round(best * 100, 2) == 94.37  # DATA.md: best cifar10 test accuracy


def test_tabular_errors_name_the_problem(tmp_path, shared_data):
    with pytest.raises(TabularError, match="cannot read"):
        TabularEvaluator(tmp_path / "missing.csv")
    bad = tmp_path / "t.csv"
    bad.write_text("arch_str,cifar10valid_valid_acc,cifar10_test_acc\n" + f"{ARCH},90.1,abc\n")
    with pytest.raises(TabularError, match="t.csv:2"):
        TabularEvaluator(bad)
    bad.write_text("arch_str,cifar10_test_acc\n")
    with pytest.raises(TabularError, match="cifar10valid_valid_acc"):
        TabularEvaluator(bad)
    evaluator, _, config, _ = _tabular(shared_data)
    with pytest.raises(TabularError, match="only the nb201"):
        evaluator.evaluate(create_space("fbnet"), config, 1, 0)
