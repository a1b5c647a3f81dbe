"""The machine a trial runs on: its identity as a run records it, and the RAM available now.

psutil is imported lazily, so the basics stay importable where it is missing; every reading
here is informative, so a failure gives None (or leaves the field out), never an error.
"""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

__all__ = ["available_ram_bytes", "host_info", "total_ram_bytes"]


def available_ram_bytes() -> int | None:
    """RAM the kernel could give now (``MemAvailable``), or None where it cannot be read."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or /proc unreadable: callers say the RAM is unknown
        return None


def total_ram_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        return None


def host_info() -> dict[str, Any]:
    """This machine as a run records it (an executor records the node's)."""
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    total = total_ram_bytes()
    if total is not None:  # host details are informative only
        info["total_ram_bytes"] = total
    return info
