"""The ``local`` device is this machine: it is profiled on first use (small, cached, resumable), so the
default run needs nothing prepared."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from hwprofiles.errors import DeviceNotFoundError
from hwprofiles.measure import ProfileRequest, profile_local
from hwprofiles.onnx_timing import Protocol
from hwprofiles.profile import Profile
from hwprofiles.store import LOCAL_DEVICE, open_profile

__all__ = ["ensure_local_profile", "local_profile_request"]

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


def ensure_local_profile(spaces: tuple[str, ...], precision: str, count: int,
                         progress: Progress | None = None,
                         space_options: Mapping[str, dict] | None = None) -> Profile:
    """The ``local`` profile with at least ``count`` measurements of each space (measured now where
    missing)."""
    try:
        profile = open_profile(LOCAL_DEVICE)
    except DeviceNotFoundError:
        profile = None
    missing = tuple(s for s in spaces
                    if profile is None or len(profile.select(space=s, precision=precision)) < count)
    if not missing:
        return profile
    log.warning("profiling this machine as device %r (%d architectures of %s, %s; cached for later runs)",
                LOCAL_DEVICE, count, ", ".join(missing), precision)
    profile_local(local_profile_request(profile, missing, precision, count, space_options), progress=progress)
    return open_profile(LOCAL_DEVICE)


def local_profile_request(profile: Profile | None, spaces: tuple[str, ...], precision: str, count: int,
                          space_options: Mapping[str, dict] | None = None):
    """What to measure into the ``local`` profile. A profile measured by an earlier version is continued with
    its own timing protocol, not refused for having another one."""
    timing = profile.device.protocol.get("timing") if profile is not None else None
    return ProfileRequest(device=LOCAL_DEVICE, spaces=spaces, count=count, precisions=(precision,),
                          space_options=dict(space_options or {}),
                          protocol=Protocol.from_dict(timing))
