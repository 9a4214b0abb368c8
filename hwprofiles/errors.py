"""Errors of the profile layer (all are ``NasError``: one line, exit 2 at the CLI)."""

from __future__ import annotations

from spaces import NasError, UnknownNameError

__all__ = ["ProfileError", "DeviceNotFoundError"]


class ProfileError(NasError):
    """A profile's files are missing or malformed; the message names file and line."""


class DeviceNotFoundError(UnknownNameError):
    """No profile has this device name; the message says how to create one."""

    def __init__(self, name: str, available: list[str]):
        super().__init__("device", name, available)
        # one line, as every user error (the CLI prints it as is)
        self.args = (
            f"no profile for device {name!r}; available: {', '.join(available) or '(none)'}; create it: "
            f"'python -m search profile --device {name}' measures this machine; for a remote one, "
            f"'python -m search profile kit --space S --count 20' then 'profile import KIT --device {name}' "
            "(20 architectures: screened by transfer from the other profiles of S; 100-200 for a predictor "
            f"of its own); 'profile import FILE.csv --device {name} --space S' takes your own numbers",
        )
