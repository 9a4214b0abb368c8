"""The project's one exception hierarchy.

Every mistake a user can make (a bad config value, an unknown name, a malformed
file) raises a subclass of :class:`NasError`; the CLI turns it into one line on
stderr and exit code 2. It lives in ``spaces`` because every other package
imports ``spaces`` and ``spaces`` imports nothing of theirs.
"""

from __future__ import annotations

__all__ = ["NasError", "ConfigError", "UnknownNameError"]


class NasError(Exception):
    """Base class of every error this project raises for a user mistake."""


class ConfigError(NasError, ValueError):
    """An architecture config (or its JSON / string form) is invalid."""


class UnknownNameError(NasError, LookupError):
    """A name (space, device, dataset, ...) is not registered."""

    def __init__(self, what: str, name: str, valid: list[str] | tuple[str, ...]):
        self.what, self.name, self.valid = what, name, tuple(valid)
        super().__init__(f"unknown {what} {name!r}; valid: {', '.join(self.valid) or '(none)'}")

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return self.args[0]
