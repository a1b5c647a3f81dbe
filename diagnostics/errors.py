"""Exceptions raised by the diagnostics library.

The hierarchy::

    DiagnosticsError              base of everything below; pages catch this and show .args[0]
    ├── DatasetError              the folder or a file in it cannot be used (names it)
    ├── ConfigError               an option is invalid or does not apply to the loader (names it)
    ├── StoreError                the SQLite store is corrupt, locked, full or unreadable
    │   └── StoreBusy             only locked by another writer past the busy timeout: a retry may work
    └── TrialFailed               the trial did not complete; .run_id and .status tell how
        ├── BudgetExceeded        status killed_budget: the tree's RSS crossed the memory budget
        ├── TrialTimeout          status timed_out
        └── TrialCancelled        status cancelled (UI Cancel, Ctrl-C or SIGTERM); .how names it

A trial's own ending is a stored status, not an exception for the caller: ``runner.run_trial``
returns the run id however the trial ended. Inside the runner, ``TrialFailed`` and its subclasses
end the watch of the worker with their status and message. Only a stop signal (Ctrl-C, SIGTERM, a
``KeyboardInterrupt`` from Ray) leaves the runner as an exception: ``TrialCancelled``, raised once
the cancelled run is stored, so a sweep or scenario stops too (``diagnostics.signals``).
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "ConfigError",
    "DatasetError",
    "DiagnosticsError",
    "StoreBusy",
    "StoreError",
    "TrialCancelled",
    "TrialFailed",
    "TrialTimeout",
]


class DiagnosticsError(Exception):
    """Base class; the message is written for the user and names the offending thing."""


class DatasetError(DiagnosticsError):
    pass


class ConfigError(DiagnosticsError):
    pass


class StoreError(DiagnosticsError):
    pass


class StoreBusy(StoreError):
    """SQLITE_BUSY / SQLITE_LOCKED: another process holds the write lock; nothing is wrong with the file."""


class TrialFailed(DiagnosticsError):
    status = "failed"

    def __init__(self, message: str, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class BudgetExceeded(TrialFailed):
    status = "killed_budget"


class TrialTimeout(TrialFailed):
    status = "timed_out"


class TrialCancelled(TrialFailed):
    status = "cancelled"

    def __init__(self, message: str, run_id: int | None = None, how: str = "cancel request") -> None:
        super().__init__(message, run_id)
        self.how = how  # "Ctrl-C", "SIGTERM", ... or a cancel request
