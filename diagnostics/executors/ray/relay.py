"""How a trial's rows travel from its node to the central store: the node-local ``_RelayStore``
copies each write into a ``_Relay``, whose thread sends them in batches every ``RELAY_SECONDS`` to
the ``_Mailbox`` actor on the driver's node, which the driver drains; cancel requests go back the
same way. The actor class lives here, at a stable module path, so Ray's workers import it by name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from diagnostics.executors.ray.node import _node_name
from diagnostics.store import Store

__all__ = ["RELAY_FAILURES_BEFORE_STOP", "RELAY_SECONDS"]

RELAY_SECONDS = 0.2  # the runner flushes its store every 0.2 s: the same latency end to end
RELAY_FAILURES_BEFORE_STOP = 25  # ~5 s without the driver's mailbox: stop the trial


class _Mailbox:
    """The driver-side inbox (a Ray actor pinned to the driver's node): batches in, cancels out."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, list]] = []
        self.cancelled: set[int] = set()

    def put(self, run_id: int, batch: list) -> bool:
        if batch:
            self.batches.append((run_id, batch))
        return run_id in self.cancelled

    def drain(self) -> list[tuple[int, list]]:
        out, self.batches = self.batches, []
        return out

    def cancel(self, run_id: int) -> None:
        self.cancelled.add(run_id)


class _Relay:
    """Sends what the node-local store receives to the mailbox, in batches, from its own thread."""

    def __init__(self, mailbox: Any, run_id: int) -> None:
        self.mailbox = mailbox
        self.run_id = run_id
        self.lock = threading.Lock()
        self.outbox: list[tuple[str, Any]] = []
        self.cancel_requested = False
        self.on_cancel: Callable[[], None] | None = None
        self.failures = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"relay-{run_id}", daemon=True)

    def push(self, kind: str, payload: Any) -> None:
        with self.lock:
            self.outbox.append((kind, payload))

    def start(self) -> None:
        self.thread.start()

    def send(self) -> None:
        import ray

        with self.lock:
            batch, self.outbox = self.outbox, []
        try:
            cancelled = ray.get(self.mailbox.put.remote(self.run_id, batch), timeout=30)
        except Exception:  # the driver's mailbox is gone or slow: keep the rows for the next try
            with self.lock:
                self.outbox[:0] = batch
            self.failures += 1
            if self.failures >= RELAY_FAILURES_BEFORE_STOP and self.on_cancel is not None:
                self.on_cancel()  # nobody left to report to: the worker must not run on
            return
        self.failures = 0
        if cancelled and not self.cancel_requested:
            self.cancel_requested = True
            if self.on_cancel is not None:
                self.on_cancel()

    def _loop(self) -> None:
        while not self.stopping.wait(RELAY_SECONDS):
            self.send()

    def close(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()
        for _ in range(3):
            self.send()
            if not self.outbox:
                return


class _RelayStore(Store):
    """A node-local store whose every write is also relayed to the central store's writer."""

    _LOCAL_ONLY = ("runner_pid", "runner_create_time")

    def __init__(self, home: str, relay: _Relay, node: dict[str, Any]) -> None:
        super().__init__(home)
        self.relay = relay
        self.node = node

    def update_run(self, run_id: int, **columns: Any) -> None:
        super().update_run(run_id, **columns)
        if columns.get("status") == "cancelled" and not self.relay.cancel_requested:
            # Stopped on the node (its shutdown signalled the task), not by a cancel request.
            columns["status"] = "interrupted"
            columns["error"] = (
                f"{_node_name(self.node)}: the trial was stopped on the node ({columns.get('error')})"
            )
        relayed = {k: v for k, v in columns.items() if k not in self._LOCAL_ONLY}
        if relayed:
            self.relay.push("update", relayed)

    def add_samples(self, run_id: int, rows: Any) -> None:
        self._add("samples", super().add_samples, run_id, rows)

    def add_events(self, run_id: int, rows: Any) -> None:
        self._add("events", super().add_events, run_id, rows)

    def add_logs(self, run_id: int, rows: Any) -> None:
        self._add("logs", super().add_logs, run_id, rows)

    def add_pipeline(self, run_id: int, rows: Any) -> None:
        self._add("pipeline", super().add_pipeline, run_id, rows)

    def add_composition(self, run_id: int, rows: Any) -> None:
        self._add("composition", super().add_composition, run_id, rows)

    def _add(self, table: str, add: Callable, run_id: int, rows: Any) -> None:
        rows = list(rows)
        add(run_id, rows)  # first: rows the local store refused (busy) come again with the next flush
        if rows:
            self.relay.push(table, rows)
