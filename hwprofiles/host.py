"""What this machine is, for device.json."""

from __future__ import annotations

import os
import platform

__all__ = ["cpu_model", "host_description"]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_description() -> dict:
    return {"cpu": cpu_model(), "cores": os.cpu_count() or 1,
            "description": f"{platform.node()} ({platform.system()} {platform.machine()})"}
