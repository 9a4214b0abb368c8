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
        self.args = (
            f"no profile for device {name!r}; available: {', '.join(available) or '(none)'}\n"
            f"  measure this machine:    python -m search profile --device {name}\n"
            f"  measure a remote device: python -m search profile kit --space mobile_cnn --count 100 --out kit/\n"
            f"                           (on the device: python3 kit/run_kit.py, then bring kit/ back)\n"
            f"                           python -m search profile import kit/ --device {name}\n"
            f"  import your own numbers: python -m search profile import FILE.csv --device {name} --space nb201",
        )
