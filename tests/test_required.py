"""Tests that need ../shared/data or a service skip on a developer's machine without it and fail in CI."""

from __future__ import annotations

import pytest

from .required import REQUIRE_ENV, unavailable


def test_a_missing_requirement_fails_where_everything_is_required(monkeypatch):
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="must exercise it"):
        unavailable("../shared/data not found")


def test_a_missing_requirement_skips_elsewhere(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception):
        unavailable("../shared/data not found")
