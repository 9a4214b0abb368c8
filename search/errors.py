"""The error type of ``search``: a user mistake or a fault the user can act on, one line at the CLI."""

from __future__ import annotations

from spaces import NasError

__all__ = ["SearchError"]


class SearchError(NasError):
    """Raised by ``search`` for what the user can fix; the message says what and how."""
