"""The Ray executor: one trial per node of an existing Ray cluster, one writer of the central store.

Why one trial per node: trials side by side on one box disturb each other's memory and
throughput, so each trial is a Ray task that needs the ``diagnostics_trial`` custom resource
(nodes offer 1 each by default), placed by the driver on a node with a free slot. On the node
the task runs the same runner (``runner.run_prepared``): the worker is spawned and sampled
there, with the same budget, timeout and VmHWM peak, against a node-local store in a temporary
DIAG_HOME. A ``_RelayStore`` copies every write of that store into batches the task sends, every
``RELAY_SECONDS``, to a small mailbox actor on the driver's node; the driver drains it and writes
the central store, whose only writer it is. Runs are created by the driver (status queued)
before any task starts, so their ids exist at once and the
dashboard shows them, live, as it shows local ones.

Faults, as the driver sees them:
- dataset: the task compares the folder's listing fingerprint on the node with the driver's;
  a missing or different folder fails that trial with a message naming the node and the path,
  and that node gets no more trials of this run.
- cancel: a cancel request on a run reaches the node through the mailbox (the runner's own kill,
  ``cancelled on request``); ``ray.cancel`` follows if the task has not ended after
  ``CANCEL_GRACE_SECONDS`` (a task still waiting for a node is cancelled at once).
- node death: the task's ref raises a Ray system error; the driver marks the run ``interrupted``
  naming the node (never ``cancelled``: a stop the node itself caused is not a cancel), and the
  other trials go on. ``max_retries=0``: Ray never reruns a trial silently elsewhere.
- driver death: Ray ends the job's tasks; the runner on the node spawned its worker with
  ``PR_SET_PDEATHSIG``, so the worker dies with the task's process.

Test and operations hooks: ``DIAG_RAY_DATASET_MAP`` (JSON ``{"<node id | node ip | host name>":
{"<driver folder>": "<folder on that node>"}}``) for nodes that mount the dataset elsewhere; the
driver's ``DIAG_TEST_*``, ``DIAG_PROBE_*`` and ``FAKE_*`` variables reach the trials' environment.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError, DatasetError, StoreBusy, TrialCancelled
from diagnostics.executors import Rerun, TrialResult
from diagnostics.host import host_info
from diagnostics.store import Store

__all__ = [
    "ADDRESS_ENV",
    "DATASET_MAP_ENV",
    "SLOT_RESOURCE",
    "RayExecutor",
    "cluster_offer",
    "cluster_slots",
    "connect",
    "reachable",
]

SLOT_RESOURCE = "diagnostics_trial"
ADDRESS_ENV = "DIAG_RAY_ADDRESS"
DATASET_MAP_ENV = "DIAG_RAY_DATASET_MAP"
FORWARDED_ENV_PREFIXES = ("DIAG_TEST_", "DIAG_PROBE_", "FAKE_")
RELAY_SECONDS = 0.2  # the runner flushes its store every 0.2 s: the same latency end to end
DRAIN_SECONDS = 0.2
CANCEL_GRACE_SECONDS = 5.0
NO_SLOT_SECONDS = 60.0  # runs still waiting this long with no slot left anywhere fail
RELAY_FAILURES_BEFORE_STOP = 25  # ~5 s without the driver's mailbox: stop the trial
_ACTIVE = ("queued", "running")


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs the ray package (pip install 'ray~=2.58'); "
            "without it trials run locally (--executor local)"
        ) from None
    return ray


def reachable(address: str, timeout: float = 1.0) -> bool:
    """Whether something listens at ``host:port`` (a quick check before ray.init, which waits long)."""
    host, _, port = address.rpartition(":")
    if address in ("auto", "local") or not port.isdigit():
        return True  # nothing to probe: ray.init tells
    try:
        with socket.create_connection((host.removeprefix("ray://") or "127.0.0.1", int(port)), timeout):
            return True
    except OSError:
        return False


def connect(address: str | None = None) -> Any:
    """ray.init on an existing cluster (never a new one: it would offer no trial slot)."""
    loaded = sys.modules.get("ray")
    if loaded is not None and loaded.is_initialized():
        return loaded
    address = address or os.environ.get(ADDRESS_ENV) or "auto"
    if not reachable(address):  # before importing ray (a second or two): a typo answers at once
        raise ConfigError(f"the Ray cluster at {address} cannot be reached (is `ray start --head` running?)")
    ray = _ray()
    try:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"the Ray cluster at {address} cannot be reached: {exc}") from None
    return ray


def cluster_slots(address: str | None = None) -> int:
    """Trial slots of the cluster: the sum of the ``diagnostics_trial`` resource of its nodes."""
    ray = connect(address)
    return int(ray.cluster_resources().get(SLOT_RESOURCE, 0))


# -- on the node ----------------------------------------------------------------------------------


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


def _node_info() -> dict[str, Any]:
    import ray

    context = ray.get_runtime_context()
    return {
        "node_id": context.get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "hostname": socket.gethostname(),
    }


def _node_name(node: dict[str, Any] | None) -> str:
    if not node:
        return "an unknown node"
    return f"node {node.get('hostname')} ({node.get('node_ip')}, id {str(node.get('node_id'))[:12]})"


def _node_path(path: str, dataset_map: dict[str, Any], node: dict[str, Any]) -> str:
    """The dataset folder as this node sees it (``DIAG_RAY_DATASET_MAP``; else the same path)."""
    for key in (node.get("node_id"), node.get("node_ip"), node.get("hostname")):
        for prefix, replacement in (dataset_map.get(key) or {}).items():
            prefix = prefix.rstrip("/")
            if path == prefix or path.startswith(prefix + "/"):
                return replacement.rstrip("/") + path[len(prefix) :]
    return path


def _dataset_problem(
    path: str, fingerprint: str | None, driver_path: str, node: dict[str, Any]
) -> str | None:
    from diagnostics.dataset import list_folder

    where = f"{_node_name(node)}: dataset folder {path}"
    if path != driver_path:
        where += f" (the driver's {driver_path})"
    if not os.path.isdir(path):
        return f"{where} is missing; every node needs the same folder at the same path"
    try:
        listing = list_folder(path)
    except DatasetError as exc:
        return f"{where} cannot be used: {exc}"
    if fingerprint and listing.fingerprint != fingerprint:
        return (
            f"{where} differs from the driver's: listing fingerprint {listing.fingerprint[:12]} on the "
            f"node, {fingerprint[:12]} on the driver ({listing.num_files} files on the node). Names, "
            "sizes and modification times must match: mount the same share or copy with `rsync -a`"
        )
    return None


@contextlib.contextmanager
def _trial_environment(forwarded: dict[str, str]) -> Iterator[None]:
    """The driver's forwarded variables, without Ray's OMP_NUM_THREADS=1 for its own workers (the
    trial must use the node's cores as a local trial does); restored afterwards (workers are reused)."""
    saved = dict(os.environ)
    if "OMP_NUM_THREADS" not in forwarded:
        os.environ.pop("OMP_NUM_THREADS", None)
    os.environ.update(forwarded)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _trial_task(spec: dict[str, Any], scan: dict[str, Any], mailbox: Any) -> dict[str, Any]:
    """One trial on this node; returns {status, error, node}. Everything else went by the relay."""
    task_started = time.monotonic()
    task_started_wall = time.time()
    from diagnostics.runner import run_prepared

    node = _node_info()
    relay = _Relay(mailbox, spec["run_id"])
    home = tempfile.mkdtemp(prefix="diag-ray-")
    outcome: dict[str, Any] = {"status": "failed", "error": None, "node": node}
    try:
        relay.start()
        path = _node_path(spec["dataset"], spec["dataset_map"], node)
        problem = _dataset_problem(path, spec["fingerprint"], spec["dataset"], node)
        timing = {"submitted": spec["submitted"], "task_started": task_started_wall}
        if problem is not None:
            relay.push("host", {**host_info(), "ray": {**node, **timing}})
            outcome.update(error=problem, dataset_problem=True)
            return outcome
        with _trial_environment(spec["env"]):
            store = _RelayStore(home, relay, node)
            config = TrialConfig.from_dict(spec["config"]).replace(dataset=path)
            local_id = store.create_run(config, spec["scan_summary"])
            local = store.get_run(local_id)
            host = {**(local.get("host") or {}), "ray": {**node, **timing}}
            relay.push("host", host)
            relay.push("update", {"versions": local.get("versions")})
            relay.on_cancel = lambda: store.request_cancel(local_id)
            if relay.cancel_requested:  # arrived before the run existed here: the runner ends it at once
                store.request_cancel(local_id)
            try:
                run_prepared(store, local_id, config, {**scan, "root": path})
            except (KeyboardInterrupt, TrialCancelled):
                pass  # ray.cancel, or the node stopping the task: the run is stored either way
            run = store.get_run(local_id)
            if run.get("t_started") is not None:
                timing["task_to_spawn_seconds"] = run["t_started"] - task_started
            relay.push("host", {**host, "ray": {**node, **timing}})
            outcome.update(status=run["status"], error=run.get("error"))
            return outcome
    finally:
        relay.close()
        shutil.rmtree(home, ignore_errors=True)


# -- on the driver --------------------------------------------------------------------------------


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
        if self._status(run_id) in _ACTIVE:  # ended before the runner stored anything (dataset check)
            self._end(run_id, outcome["status"], outcome.get("error"), keep_final=False)
        return False

    def _end(self, run_id: int, status: str, error: str | None, *, keep_final: bool) -> None:
        run = self._store.get_run(run_id)
        if keep_final and run["status"] not in _ACTIVE:
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


def _dataset_map() -> dict[str, Any]:
    text = os.environ.get(DATASET_MAP_ENV)
    if not text:
        return {}
    try:
        mapping = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{DATASET_MAP_ENV} is not JSON: {exc}") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, dict) for v in mapping.values()):
        raise ConfigError(
            f'{DATASET_MAP_ENV} must look like {{"<node id, ip or host>": {{"/driver/path": "/node/path"}}}}'
        )
    return mapping


def cluster_offer(address: str) -> tuple[int | None, str | None]:
    """(trial slots, None) of the cluster at ``address``, or (None, why it cannot be used)."""
    if not reachable(address):
        return None, f"the Ray cluster at {address} cannot be reached"
    try:
        return cluster_slots(address), None
    except ConfigError as exc:
        return None, str(exc)
    except Exception as exc:  # whatever Ray raises, the page says it and offers the local executor
        return None, f"the Ray cluster at {address} cannot be used: {type(exc).__name__}: {exc}"
