"""The search-quality benchmark's hypervolume (a scoring function must be right before its numbers are)."""

from __future__ import annotations

import pytest

from benchmarks.search_tabular import hypervolume


def test_hypervolume_of_a_staircase():
    # budget 10: (acc 0.9, 6 ms) -> gain 4; (acc 0.5, 2 ms) -> gain 8; union = 0.9*4 + 0.5*(8-4) = 5.6
    assert hypervolume([(0.9, 6.0), (0.5, 2.0)], 10.0) == pytest.approx(5.6)


def test_dominated_and_infeasible_points_add_nothing():
    base = hypervolume([(0.9, 6.0), (0.5, 2.0)], 10.0)
    assert hypervolume([(0.9, 6.0), (0.5, 2.0), (0.4, 3.0), (0.99, 12.0)], 10.0) == pytest.approx(base)
    assert hypervolume([], 10.0) == 0.0
