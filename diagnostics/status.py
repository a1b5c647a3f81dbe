"""The statuses of runs and sweeps: the only copy (store, runner, queries and views read it).

A run: ``queued`` -> ``running`` -> one of the finished statuses. A sweep: ``created`` ->
``running`` -> ``completed`` | ``failed`` | ``interrupted`` (stopped, or its process died).
"""

from __future__ import annotations

__all__ = [
    "ACTIVE_STATUSES",
    "ACTIVE_SWEEP_STATUSES",
    "FINISHED_STATUSES",
    "RUN_STATUSES",
    "SWEEP_STATUSES",
]

ACTIVE_STATUSES = ("queued", "running")
FINISHED_STATUSES = ("completed", "failed", "killed_budget", "timed_out", "cancelled", "interrupted")
RUN_STATUSES = ACTIVE_STATUSES + FINISHED_STATUSES

ACTIVE_SWEEP_STATUSES = ("created", "running")
SWEEP_STATUSES = ACTIVE_SWEEP_STATUSES + ("completed", "failed", "interrupted")
