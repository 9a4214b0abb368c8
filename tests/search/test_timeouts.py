"""How long a job may run: fixed, or a generous multiple of what the study measured."""

from __future__ import annotations

from search.execution.jobs import EvalJob
from search.execution.timeouts import FLOOR_S, INITIAL_S, INITIAL_S_PER_EPOCH, MULTIPLE, JobTimeout


def _job(epochs: int, from_epoch: int = 0) -> EvalJob:
    return EvalJob(0, "mobile_cnn", "{}", 0, epochs, 9, from_epoch=from_epoch)


def test_a_fixed_limit_is_the_same_for_every_job():
    timeouts = JobTimeout(fixed_s=7.0)
    timeouts.observe(1000.0, 1)
    assert timeouts.limit_s(_job(1)) == timeouts.limit_s(_job(9)) == 7.0


def test_before_anything_is_measured_the_limit_is_generous_and_grows_with_the_epochs():
    assert JobTimeout().limit_s(_job(1)) == INITIAL_S
    assert JobTimeout().limit_s(_job(20, from_epoch=10)) == INITIAL_S_PER_EPOCH * 10


def test_the_limit_grows_with_the_slowest_epoch_measured_and_the_jobs_own_epochs():
    timeouts = JobTimeout()
    timeouts.observe(200.0, 2)  # 100 s per epoch
    timeouts.observe(30.0, 3)  # faster: changes nothing
    assert timeouts.limit_s(_job(3)) == MULTIPLE * 100.0 * 3
    assert timeouts.limit_s(_job(9, from_epoch=3)) == MULTIPLE * 100.0 * 6  # only the epochs it trains


def test_the_limit_has_a_floor():
    timeouts = JobTimeout()
    timeouts.observe(0.01, 1)
    assert timeouts.limit_s(_job(1)) == FLOOR_S
