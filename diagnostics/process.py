"""Process identity: whether the owner of a run, a sweep or a scenario job still lives.

A pid alone is not an identity (pids are reused), so an owner is recorded as pid plus start time.
"""

from __future__ import annotations

__all__ = ["process_alive", "process_create_time"]


def process_create_time(pid: int | None = None) -> float | None:
    """Start time of process ``pid`` (default: this one); with the pid it names an owner process."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # psutil missing or the process gone: the liveness check then uses pid only
        return None


def process_alive(pid: int | None, create_time: float | None) -> bool:
    """Whether process ``pid`` lives and is the one that started at ``create_time`` (the owner of a
    run, a sweep or a scenario job); a zombie, a missing pid or a reused one is not alive."""
    if pid is None:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        # A reused pid has a different start time.
        return create_time is None or abs(proc.create_time() - create_time) < 1.0
    except psutil.Error:
        return False
