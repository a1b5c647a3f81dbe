"""Stop signals: SIGINT and SIGTERM stop a trial like Ctrl-C, and cannot cut the run's final write.

``install_stop_signals`` (main thread) makes both raise ``Stopped``, a ``KeyboardInterrupt``, so
no ``except Exception`` on its way (store retries, reader threads, the sweep loop) swallows it.
The runner catches it, stores the run ``cancelled`` and only then raises ``TrialCancelled`` (with
the run id and how it was stopped) from a safe point, outside any such block. While the run's end
is being stored (``storing_end``) a signal is deferred instead, and raised once it is stored.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from diagnostics.errors import TrialCancelled

__all__ = [
    "Stopped",
    "cancelled",
    "how_stopped",
    "install_stop_signals",
    "storing_end",
    "take_deferred",
]


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM in a process that called ``install_stop_signals``; ``.how`` names it."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class _StopState:
    stopping = False  # a Stopped is on its way up: further signals add nothing
    finishing = 0  # inside storing_end: the run's end is being stored and must not be cut
    deferred: str | None = None  # a signal that arrived while finishing, raised right after


def install_stop_signals() -> None:
    """SIGTERM ends a trial like Ctrl-C (cancelled, stored), and repeated signals cannot cut the
    final store write: the first one stops the trial, later ones only print a line. Main thread."""
    signal.signal(signal.SIGINT, _on_stop_signal)
    signal.signal(signal.SIGTERM, _on_stop_signal)


def _on_stop_signal(signum: int, frame: Any) -> None:
    how = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    if _StopState.stopping:
        print(f"{how}: already stopping; the run is being saved", file=sys.stderr, flush=True)
        return
    if _StopState.finishing:
        _StopState.deferred = _StopState.deferred or how
        print(f"{how}: saving the run first, then stopping", file=sys.stderr, flush=True)
        return
    _StopState.stopping = True
    raise Stopped(how)


@contextmanager
def storing_end() -> Iterator[None]:
    """Around the write of a run's end: a signal meanwhile is deferred (``take_deferred``); on exit
    the stop in progress, if any, is over (the next signal stops again)."""
    _StopState.finishing += 1
    try:
        yield
    finally:
        _StopState.finishing -= 1
        _StopState.stopping = False


def take_deferred() -> str | None:
    """The signal deferred by ``storing_end`` (how it was sent), cleared; None while an end is
    still being stored (its trial raises it) or when none came."""
    if _StopState.finishing:
        return None
    how, _StopState.deferred = _StopState.deferred, None
    return how


def how_stopped(exc: KeyboardInterrupt) -> str:
    """How a stop came: the signal's name for ``Stopped``, else Ctrl-C (a plain KeyboardInterrupt)."""
    return exc.how if isinstance(exc, Stopped) else "Ctrl-C"


def cancelled(how: str, run_id: int | None) -> TrialCancelled:
    """The exception a trial stopped by ``how`` raises once its cancelled run is stored."""
    return TrialCancelled(f"cancelled ({how})", run_id=run_id, how=how)
