"""The search-quality benchmark's hypervolume (a scoring function must be right before its numbers are)."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.search_tabular import command, hypervolume, result_name


def test_hypervolume_of_a_staircase():
    # budget 10: (acc 0.9, 6 ms) -> gain 4; (acc 0.5, 2 ms) -> gain 8; union = 0.9*4 + 0.5*(8-4) = 5.6
    assert hypervolume([(0.9, 6.0), (0.5, 2.0)], 10.0) == pytest.approx(5.6)


def test_dominated_and_infeasible_points_add_nothing():
    base = hypervolume([(0.9, 6.0), (0.5, 2.0)], 10.0)
    assert hypervolume([(0.9, 6.0), (0.5, 2.0), (0.4, 3.0), (0.99, 12.0)], 10.0) == pytest.approx(base)
    assert hypervolume([], 10.0) == 0.0


def test_a_run_with_other_options_writes_its_own_file_and_records_its_command():
    assert result_name("pixel3") == "search_tabular"
    assert result_name("gold_6226") == "search_tabular_gold_6226"
    assert result_name("gold_6226", 30, "nsga2") == "search_tabular_gold_6226_seeds30_nsga2"
    assert (result_name("gold_6226", 5, "nsga2", 0.5, 20)
            == "search_tabular_gold_6226_seeds5_nsga2_q50_shots20")
    run = argparse.Namespace(device="gold_6226", seeds=30, budget_quantile=0.25, samplers="nsga2",
                             shots=None)
    assert command(run) == ("python -m benchmarks.search_tabular --device gold_6226 --seeds 30 "
                            "--samplers nsga2")
    few = argparse.Namespace(device="gold_6226", seeds=10, budget_quantile=0.75, samplers="nsga2,tpe",
                             shots=20)
    assert command(few) == ("python -m benchmarks.search_tabular --device gold_6226 --budget-quantile 0.75 "
                            "--shots 20")
    default = argparse.Namespace(device="pixel3", seeds=10, budget_quantile=0.25, samplers="nsga2,tpe",
                                 shots=None)
    assert command(default) == "python -m benchmarks.search_tabular"
