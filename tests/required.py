"""What a test needs from outside the repository (a service, ../shared/data): skipped on a developer's machine
without it, a failure where ``SEARCH_REQUIRE_SERVICES=1`` (set by ``.ci/run``): CI must exercise it for
real."""

from __future__ import annotations

import os

import pytest

REQUIRE_ENV = "SEARCH_REQUIRE_SERVICES"


def unavailable(reason: str) -> None:
    """Skip, or fail where everything is required."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: this run must exercise it)", pytrace=False)
    pytest.skip(reason)
