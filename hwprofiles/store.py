"""Where profiles live and how they are found by name.

Shipped profiles are folders under ``hwprofiles/profiles/``; measured ones go
to the user directory (``$SEARCH_PROFILES_DIR`` or
``~/.local/share/search/profiles``). A user profile shadows a shipped one of
the same name.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DeviceNotFoundError
from .profile import DEVICE_FILE, Profile, load_profile, validate_device_name

__all__ = ["LOCAL_DEVICE", "SHIPPED_DIR", "SHIPPED_CHOICES_DIR", "user_dir", "cache_dir", "profile_dirs",
           "list_profiles", "find_profile", "open_profile"]

SHIPPED_DIR = Path(__file__).resolve().parent / "profiles"
#: the model choices of the shipped profiles' predictors (search.screening.shipped_choices writes them)
SHIPPED_CHOICES_DIR = Path(__file__).resolve().parent / "predictor_choices"
#: the device name of this machine: searched on it, it is profiled on first use and candidates are timed here
LOCAL_DEVICE = "local"


def user_dir() -> Path:
    env = os.environ.get("SEARCH_PROFILES_DIR")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "search" / "profiles"


def cache_dir() -> Path:
    """Derived data that can always be rebuilt from the profiles (fitted-predictor choices, accuracies)."""
    env = os.environ.get("SEARCH_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "search"


def profile_dirs() -> dict[str, Path]:
    """Every profile by name (user ones shadow shipped ones)."""
    found: dict[str, Path] = {}
    for root in (SHIPPED_DIR, user_dir()):
        if root.is_dir():
            for sub in sorted(root.iterdir()):
                if (sub / DEVICE_FILE).is_file():
                    found[sub.name] = sub
    return dict(sorted(found.items()))


def list_profiles() -> list[str]:
    return list(profile_dirs())


def find_profile(name: str) -> Path:
    validate_device_name(name)
    dirs = profile_dirs()
    if name not in dirs:
        raise DeviceNotFoundError(name, list(dirs))
    return dirs[name]


def open_profile(name: str, check_arch: bool = True) -> Profile:
    return load_profile(find_profile(name), check_arch)
