"""One line per profile, for ``python -m search devices``."""

from __future__ import annotations

from dataclasses import dataclass

from .profile import Profile, load_profile
from .store import profile_dirs, user_dir

__all__ = ["ProfileSummary", "describe_profiles"]


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    spaces: tuple[str, ...]
    measurements: int
    runtime: str
    precisions: tuple[str, ...]
    batch: int
    noise_floor_pct: float | None
    source: str  # "shipped" or "user"
    profile: Profile  # as loaded for the listing (arch strings not re-validated)


def describe_profiles() -> list[ProfileSummary]:
    out = []
    user_root = user_dir().resolve()
    for name, path in profile_dirs().items():
        profile = load_profile(path, check_arch=False)  # listing: numbers validated, arch strings on use
        first = [m for m in profile.measurements if m.repeat == 0]
        out.append(ProfileSummary(
            name=name, spaces=profile.spaces, measurements=len(first),
            runtime=profile.device.runtime or "-", precisions=profile.device.precisions,
            batch=profile.device.batch, noise_floor_pct=profile.device.noise_floor_pct,
            source="user" if user_root in path.resolve().parents else "shipped", profile=profile,
        ))
    return out
