"""The driver side of the ray executor: ``RayExecutor`` creates every run (queued) in the central
store, places each trial on a node with a free slot, drains the mailbox into the store (its only
writer), and ends each run from its task's outcome: a cancel, a node's death, a dataset problem.
"""

from __future__ import annotations

import collections
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError, StoreBusy
from diagnostics.executors import Rerun, TrialResult
from diagnostics.executors.ray.cluster import SLOT_RESOURCE, _dataset_map, cluster_slots, connect
from diagnostics.executors.ray.node import _node_name
from diagnostics.executors.ray.relay import _Mailbox
from diagnostics.executors.ray.task import _trial_task
from diagnostics.status import ACTIVE_STATUSES

__all__ = [
    "CANCEL_GRACE_SECONDS",
    "DRAIN_SECONDS",
    "FORWARDED_ENV_PREFIXES",
    "NO_SLOT_SECONDS",
    "RayExecutor",
]

FORWARDED_ENV_PREFIXES = ("DIAG_TEST_", "DIAG_PROBE_", "FAKE_")
DRAIN_SECONDS = 0.2
CANCEL_GRACE_SECONDS = 5.0
NO_SLOT_SECONDS = 60.0  # runs still waiting this long with no slot left anywhere fail


@dataclass
class _Pending:
    result: TrialResult
    run_id: int
    config: TrialConfig
    scan: Any
    attempts: int = 0  # submissions whose node vanished before the trial started there


@dataclass
class _Flight:
    pending: _Pending
    node_id: str
    node: dict[str, Any] | None = None  # set when the task reports from its node
    cancel_sent: float | None = None
    ray_cancelled: int = 0

    @property
    def run_id(self) -> int:
        return self.pending.run_id


class RayExecutor:
    """Runs each trial as a Ray task on a node with a free ``diagnostics_trial`` slot.

    The driver places each task itself (node affinity plus the slot resource), so no two trials
    share a slot, a free node never waits while another runs two, and a node whose dataset folder
    is missing or differs gets no more trials of this sweep after the first one fails there.

    Args:
        address: the cluster (``host:port`` of the head's GCS, or ``auto``); None: DIAG_RAY_ADDRESS,
            else a cluster started on this machine with ``ray start``.

    Example:
        >>> run_sweep(store, base, grid, "batch", executor=RayExecutor("10.0.0.5:6379"))
    """

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def run(
        self,
        store: Any,
        configs: list[TrialConfig],
        *,
        sweep_id: int | None = None,
        allowed_roots: list | None = None,
        rerun: Rerun | None = None,
        on_start: Callable[[int], None] | None = None,
        on_done: Callable[[TrialResult], None] | None = None,
    ) -> list[TrialResult]:
        ray = connect(self.address)
        if cluster_slots() < 1:
            raise ConfigError(
                f"the Ray cluster offers no {SLOT_RESOURCE} slot: start the worker nodes with "
                f"`ray start --address HEAD:6379 --resources '{{\"{SLOT_RESOURCE}\": 1}}'` (docs/RAY.md)"
            )
        self._ray = ray
        self._store = store
        self._sweep_id = sweep_id
        self._allowed_roots = allowed_roots
        self._scans: dict[tuple, Any] = {}
        self._dataset_map = _dataset_map()
        self._env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
        self._bad_nodes: dict[str, str] = {}  # node id -> why it gets no more trials
        self._flights: dict[Any, _Flight] = {}
        self._by_run: dict[int, _Flight] = {}
        self._queue: collections.deque[_Pending] = collections.deque()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self._affinity = NodeAffinitySchedulingStrategy
        # The mailbox lives on the driver's node: a dying worker node must not take it along.
        here = ray.get_runtime_context().get_node_id()
        self._mailbox = (
            ray.remote(_Mailbox)
            .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
            .remote()
        )
        self._task = ray.remote(_trial_task)
        results = [TrialResult(i, c) for i, c in enumerate(configs)]
        try:
            self._queue.extend(self._prepare_all(results, on_done))
            self._loop(rerun, on_start, on_done)
        finally:
            self._stop_all()
        return results

    # -- preparing and placing

    def _prepare_all(
        self, results: list[TrialResult], on_done: Callable[[TrialResult], None] | None
    ) -> list[_Pending]:
        """Every run created (queued) before any task starts, so the dashboard lists them all."""
        prepared: list[_Pending] = []
        try:
            for result in results:
                try:
                    prepared.append(_Pending(result, *self._prepare(result.config)))
                except ConfigError as exc:
                    result.error = str(exc)
                    if on_done is not None:
                        on_done(result)
        except BaseException as exc:  # bad input common to all trials (the folder): none runs
            for pending in prepared:
                self._end(pending.run_id, "cancelled", f"not run: the sweep stopped: {exc}", keep_final=True)
            raise
        return prepared

    def _prepare(self, config: TrialConfig) -> tuple[int, TrialConfig, Any]:
        from diagnostics.prepare import prepare_trial

        return prepare_trial(config, self._store, allowed_roots=self._allowed_roots, sweep_id=self._sweep_id)

    def _free_nodes(self) -> list[str]:
        """Alive nodes with a slot this sweep does not use yet, least busy first."""
        busy = collections.Counter(f.node_id for f in self._flights.values())
        free = []
        for node in self._ray.nodes():
            slots = int((node.get("Resources") or {}).get(SLOT_RESOURCE, 0))
            node_id = node.get("NodeID")
            if node.get("Alive") and node_id not in self._bad_nodes and slots > busy[node_id]:
                free.append((busy[node_id] / slots, node_id))
        return [node_id for _, node_id in sorted(free)]

    def _fill(self, on_start: Callable[[int], None] | None) -> None:
        if not self._queue:
            return
        for node_id in self._free_nodes():
            if not self._queue:
                return
            pending = self._queue.popleft()
            if on_start is not None and pending.attempts == 0 and pending.result.first_run_id is None:
                on_start(pending.result.index)
            self._submit(pending, node_id)

    def _submit(self, pending: _Pending, node_id: str) -> None:
        scan = pending.scan
        key = (scan.root, scan.fingerprint, tuple(scan.image_size), scan.color_mode, scan.dtype)
        if key not in self._scans:
            data = scan.to_dict()
            data.pop("sizes", None)  # the worker needs the files, not their pixel sizes
            self._scans[key] = self._ray.put(data)
        spec = {
            "run_id": pending.run_id,
            "config": pending.config.to_dict(),
            "dataset": scan.root,
            "fingerprint": scan.fingerprint,
            "scan_summary": self._store.get_run(pending.run_id).get("scan"),
            "dataset_map": self._dataset_map,
            "env": self._env,
            "submitted": time.time(),
        }
        # Node affinity (hard) on top of the slot: a distinct placement per node also keeps Ray from
        # reusing one node's leased worker for every queued trial when trials end fast there.
        strategy = self._affinity(node_id, soft=False)
        options = {
            "num_cpus": 0,
            "resources": {SLOT_RESOURCE: 1},
            "max_retries": 0,
            "retry_exceptions": False,
        }
        task = self._task.options(scheduling_strategy=strategy, **options)
        ref = task.remote(spec, self._scans[key], self._mailbox)
        flight = _Flight(pending, node_id)
        self._flights[ref] = flight
        self._by_run[pending.run_id] = flight

    # -- the driver's loop: place, drain, finish, cancel

    def _loop(
        self,
        rerun: Rerun | None,
        on_start: Callable[[int], None] | None,
        on_done: Callable[[TrialResult], None] | None,
    ) -> None:
        no_slot_since: float | None = None
        while self._flights or self._queue:
            self._fill(on_start)
            if not self._flights:
                # Nothing placed: every slot node is gone or has the dataset wrong. Wait a while for
                # nodes to (re)join, then fail what is left with the reason.
                now = time.monotonic()
                no_slot_since = no_slot_since or now
                self._poll_cancels(on_done)
                if now - no_slot_since > NO_SLOT_SECONDS:
                    self._fail_queued(self._no_node_text(), on_done)
                time.sleep(DRAIN_SECONDS)
                continue
            no_slot_since = None
            ready, _ = self._ray.wait(
                list(self._flights), num_returns=len(self._flights), timeout=DRAIN_SECONDS
            )
            self._drain()  # before judging a finished task: its last batch is in the mailbox already
            for ref in ready:
                flight = self._flights.pop(ref)
                self._by_run.pop(flight.run_id, None)
                if self._finish(ref, flight):
                    continue  # its node vanished before the trial started: placed again
                pending = flight.pending
                again = None
                first = pending.result.first_run_id is None  # a rerun is not rerun again
                if rerun is not None and first and self._status(pending.run_id) == "completed":
                    again = rerun(pending.run_id, pending.config)
                if again is not None:
                    pending.result.first_run_id = pending.run_id
                    pending.result.rerun_config = again
                    self._queue.appendleft(_Pending(pending.result, *self._prepare(again)))
                    continue
                self._done(pending, on_done)
            self._poll_cancels(on_done)

    @staticmethod
    def _done(pending: _Pending, on_done: Callable[[TrialResult], None] | None) -> None:
        pending.result.run_id = pending.run_id
        if on_done is not None:
            on_done(pending.result)

    def _no_node_text(self) -> str:
        text = f"not run: no node of the Ray cluster offered a free {SLOT_RESOURCE} slot for {NO_SLOT_SECONDS:g} s"
        if self._bad_nodes:
            text += "; nodes left out of this sweep: " + "; ".join(self._bad_nodes.values())
        return text

    def _status(self, run_id: int) -> str:
        return self._store.get_run(run_id)["status"]

    def _drain(self) -> None:
        for run_id, batch in self._ray.get(self._mailbox.drain.remote()):
            flight = self._by_run.get(run_id)
            for kind, payload in batch:
                if kind == "host":
                    if flight is not None:
                        flight.node = payload.get("ray")
                    self._write(self._store.update_run, run_id, host=payload)
                elif kind == "update":
                    self._write(self._store.update_run, run_id, **payload)
                else:
                    self._write(getattr(self._store, "add_" + kind), run_id, payload)

    @staticmethod
    def _write(write: Callable, *args: Any, **kwargs: Any) -> None:
        for attempt in range(20):  # another process writing the store (a local trial) holds the lock
            try:
                return write(*args, **kwargs)
            except StoreBusy:
                if attempt == 19:
                    raise
                time.sleep(0.1)

    def _finish(self, ref: Any, flight: _Flight) -> bool:
        """Store the run's end from the task's outcome (the relayed rows are stored already).

        Returns True when the trial was placed again because its node vanished before it started.
        """
        exceptions = self._ray.exceptions
        run_id = flight.run_id
        requested = self._store.cancel_requested(run_id)
        try:
            outcome = self._ray.get(ref)
        except exceptions.TaskCancelledError:
            self._end(run_id, "cancelled", "cancelled on request (ray.cancel)", keep_final=True)
            return False
        except exceptions.RayTaskError as exc:  # our task raised: a runner bug on the node
            self._end(run_id, "failed", f"runner error on {_node_name(flight.node)}: {exc}", keep_final=False)
            return False
        except exceptions.RayError as exc:  # the node (or its worker process) went away
            if requested:
                self._end(run_id, "cancelled", "cancelled on request", keep_final=True)
                return False
            if flight.node is None and flight.pending.attempts < 3 and self._status(run_id) == "queued":
                flight.pending.attempts += 1
                self._queue.appendleft(flight.pending)
                return True
            where = _node_name(flight.node) if flight.node else f"node {flight.node_id[:12]}"
            self._end(
                run_id,
                "interrupted",
                f"{where} died or left the Ray cluster during the trial ({type(exc).__name__}); "
                "the other trials went on",
                keep_final=False,
            )
            return False
        if outcome.get("dataset_problem"):
            self._bad_nodes[flight.node_id] = outcome["error"]
        if self._status(run_id) in ACTIVE_STATUSES:  # ended before the runner stored anything (dataset check)
            self._end(run_id, outcome["status"], outcome.get("error"), keep_final=False)
        return False

    def _end(self, run_id: int, status: str, error: str | None, *, keep_final: bool) -> None:
        run = self._store.get_run(run_id)
        if keep_final and run["status"] not in ACTIVE_STATUSES:
            return
        if run["status"] == "completed" and status == "interrupted":
            return  # the trial had finished and stored its end before the node went
        self._write(self._store.update_run, run_id, status=status, error=error, finished=time.time())

    def _poll_cancels(self, on_done: Callable[[TrialResult], None] | None) -> None:
        now = time.monotonic()
        for pending in list(self._queue):
            if self._store.cancel_requested(pending.run_id):
                self._queue.remove(pending)
                self._end(pending.run_id, "cancelled", "cancelled while waiting for a node", keep_final=True)
                self._done(pending, on_done)
        for ref, flight in list(self._flights.items()):
            if flight.cancel_sent is None:
                if not self._store.cancel_requested(flight.run_id):
                    continue
                flight.cancel_sent = now
                self._mailbox.cancel.remote(flight.run_id)  # the runner on the node kills its worker
                if flight.node is None:
                    self._ray.cancel(ref)  # not started on its node yet: nothing to stop there
                    flight.ray_cancelled = 1
            elif now - flight.cancel_sent > CANCEL_GRACE_SECONDS * (1 + flight.ray_cancelled):
                # The runner did not end the trial in time: KeyboardInterrupt in the task, then force.
                self._ray.cancel(ref, force=flight.ray_cancelled > 0)
                flight.ray_cancelled += 1

    def _fail_queued(self, message: str, on_done: Callable[[TrialResult], None] | None) -> None:
        while self._queue:
            pending = self._queue.popleft()
            self._end(pending.run_id, "failed", message, keep_final=True)
            self._done(pending, on_done)

    def _stop_all(self) -> None:
        """Leaving early (Ctrl-C, a callback raised): cancel what is in flight, close what waits."""
        for ref, flight in getattr(self, "_flights", {}).items():
            try:
                self._mailbox.cancel.remote(flight.run_id)
                self._ray.cancel(ref, force=True)
            except Exception:  # best effort: the runs are closed below whatever Ray says
                pass
            with contextlib.suppress(Exception):
                self._end(
                    flight.run_id, "cancelled", "cancelled: the driver stopped the sweep", keep_final=True
                )
        for pending in getattr(self, "_queue", ()):
            with contextlib.suppress(Exception):
                self._end(
                    pending.run_id, "cancelled", "not run: the driver stopped the sweep", keep_final=True
                )
        if hasattr(self, "_flights"):
            self._flights.clear()
            self._queue.clear()
