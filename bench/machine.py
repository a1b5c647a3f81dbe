"""The machine a benchmark ran on: CPU model, cores, RAM, versions, and how busy it was."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

import psutil

__all__ = ["describe", "load_average"]

_PACKAGES = ("tensorflow", "keras", "psutil", "memory_profiler", "pandas", "numpy")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def describe() -> dict[str, Any]:
    versions: dict[str, Any] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "ram_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "versions": versions,
    }
