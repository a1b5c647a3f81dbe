"""Waiting on conditions and processes in tests that drive real runners and workers."""

from __future__ import annotations

import time

import psutil


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    """The first truthy value of ``predicate()``, polled every 0.05 s; AssertionError at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its parent counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
