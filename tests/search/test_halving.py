from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.loop.halving import promote, rung_epochs
from search.study.pareto import non_dominated_ranks
from spaces import NasError


@pytest.mark.parametrize("epochs, rate, expected", [
    (9, 3, (1, 3, 9)), (6, 3, (2, 6)), (1, 3, (1,)), (8, 2, (1, 2, 4, 8)), (5, None, (5,)),
])
def test_rungs(epochs, rate, expected):
    assert rung_epochs(epochs, rate) == expected


@pytest.mark.parametrize("epochs, rate", [(0, 3), (4, 1), (4, float("nan")), (2.5, 3)])
def test_bad_rungs(epochs, rate):
    with pytest.raises(NasError):
        rung_epochs(epochs, rate)


def test_ranks_follow_pareto_fronts():
    # (accuracy, latency): a and b are on the front, c is dominated by a, d by c
    points = [(0.9, 2.0), (0.8, 1.0), (0.85, 2.5), (0.7, 3.0)]
    assert non_dominated_ranks(points) == [0, 0, 1, 2]


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.01, 100)), min_size=1, max_size=30))
def test_ranks_are_consistent(points):
    ranks = non_dominated_ranks(points)
    for i, p in enumerate(points):
        for j, q in enumerate(points):
            if p[0] >= q[0] and p[1] <= q[1] and p != q:
                assert ranks[i] < ranks[j]  # a dominating point sits in an earlier front
    assert 0 in ranks


def test_promote_keeps_the_top_third_by_front_then_accuracy():
    pool = {0: (0.95, 5.0), 1: (0.60, 1.0), 2: (0.90, 4.0), 3: (0.50, 6.0), 4: (0.70, 3.0), 5: (0.40, 7.0)}
    # front 0: 0, 1, 2, 4 (none dominates another); top ceil(6/3) = 2 by accuracy within the front: 0 and 2
    assert promote(pool, [0, 1, 2, 3, 4, 5], 3) == {0, 2}
    assert promote(pool, [1, 3], 3) == set()  # only the candidates asked about come back
    assert promote(pool, [3, 5], 1.01) == {3, 5}  # ceil(6 / 1.01) = 6: everyone goes on


def test_promote_a_lone_trial_goes_on():
    assert promote({7: (0.1, 9.0)}, [7], 3) == {7}
