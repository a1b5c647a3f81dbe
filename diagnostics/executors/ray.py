"""The Ray executor: one trial per node of an existing Ray cluster, one writer of the central store.

Why one trial per node: trials side by side on one box disturb each other's memory and
throughput, so each trial is a Ray task that needs the ``diagnostics_trial`` custom resource
(nodes offer 1 each by default). On the node the task runs the same runner (``runner._Trial``):
the worker is spawned and sampled there, with the same budget, timeout and VmHWM peak, against a
node-local store in a temporary DIAG_HOME. A ``_RelayStore`` copies every write of that store
into batches the task sends, every ``RELAY_SECONDS``, to a small mailbox actor on the driver's
node; the driver drains it and writes the central store, whose only writer it is. Runs are
created by the driver (status queued) before any task starts, so their ids exist at once and the
dashboard shows them, live, as it shows local ones.

Faults, as the driver sees them:
- dataset: the task compares the folder's listing fingerprint on the node with the driver's;
  a missing or different folder fails that trial with a message naming the node and the path.
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

import contextlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError, DatasetError, StoreBusy
from diagnostics.executors import Rerun, TrialResult
from diagnostics.store import Store, host_info

__all__ = [
    "ADDRESS_ENV",
    "DATASET_MAP_ENV",
    "SLOT_RESOURCE",
    "RayExecutor",
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
    ray = _ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get(ADDRESS_ENV) or "auto"
    if not reachable(address):
        raise ConfigError(f"the Ray cluster at {address} cannot be reached (is `ray start --head` running?)")
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
    from diagnostics.runner import _Trial

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
            outcome["error"] = problem
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
            try:
                _Trial(store, local_id, config, {**scan, "root": path}).run()
            except KeyboardInterrupt:
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
class _Flight:
    result: TrialResult
    run_id: int
    config: TrialConfig
    node: dict[str, Any] | None = None
    cancel_sent: float | None = None
    ray_cancelled: int = 0
    submitted: float = field(default_factory=time.monotonic)


class RayExecutor:
    """Runs each trial as a Ray task needing one ``diagnostics_trial`` slot; see the module docstring.

    Args:
        address: the cluster (``host:port`` of the head's GCS, ``ray://...`` or ``auto``); None:
            DIAG_RAY_ADDRESS, else a cluster started on this machine with ``ray start``.

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
        # The mailbox lives on the driver's node: a dying worker node must not take it along.
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        self._mailbox = (
            ray.remote(_Mailbox)
            .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
            .remote()
        )
        self._task = ray.remote(_trial_task).options(
            num_cpus=0, resources={SLOT_RESOURCE: 1}, max_retries=0, retry_exceptions=False
        )
        results = [TrialResult(i, c) for i, c in enumerate(configs)]
        self._flights: dict[Any, _Flight] = {}
        self._by_run: dict[int, _Flight] = {}
        try:
            prepared = self._prepare_all(results, on_done)
            for result, run_id, config, scan in prepared:
                if on_start is not None:
                    on_start(result.index)
                self._submit(result, run_id, config, scan)
            self._loop(rerun, on_done)
        finally:
            self._stop_all()
        return results

    # -- preparing and submitting

    def _prepare_all(
        self, results: list[TrialResult], on_done: Callable[[TrialResult], None] | None
    ) -> list[tuple]:
        """Every run created (queued) before any task starts, so the dashboard lists them all."""
        prepared: list[tuple] = []
        try:
            for result in results:
                try:
                    prepared.append((result, *self._prepare(result.config)))
                except ConfigError as exc:
                    result.error = str(exc)
                    if on_done is not None:
                        on_done(result)
        except BaseException as exc:  # bad input common to all trials (the folder): none runs
            for _, run_id, _, _ in prepared:
                self._end(run_id, "cancelled", f"not run: the sweep stopped: {exc}", keep_final=True)
            raise
        return prepared

    def _prepare(self, config: TrialConfig) -> tuple[int, TrialConfig, Any]:
        from diagnostics.runner import prepare_trial

        return prepare_trial(config, self._store, allowed_roots=self._allowed_roots, sweep_id=self._sweep_id)

    def _submit(self, result: TrialResult, run_id: int, config: TrialConfig, scan: Any) -> None:
        key = (scan.root, scan.fingerprint, tuple(scan.image_size), scan.color_mode, scan.dtype)
        if key not in self._scans:
            data = scan.to_dict()
            data.pop("sizes", None)  # the worker needs the files, not their pixel sizes
            self._scans[key] = self._ray.put(data)
        spec = {
            "run_id": run_id,
            "config": config.to_dict(),
            "dataset": scan.root,
            "fingerprint": scan.fingerprint,
            "scan_summary": self._store.get_run(run_id).get("scan"),
            "dataset_map": self._dataset_map,
            "env": self._env,
            "submitted": time.time(),
        }
        ref = self._task.remote(spec, self._scans[key], self._mailbox)
        flight = _Flight(result, run_id, config)
        self._flights[ref] = flight
        self._by_run[run_id] = flight

    # -- the driver's loop: drain, finish, cancel

    def _loop(self, rerun: Rerun | None, on_done: Callable[[TrialResult], None] | None) -> None:
        no_slot_since: float | None = None
        last_slot_check = 0.0
        while self._flights:
            ready, _ = self._ray.wait(
                list(self._flights), num_returns=len(self._flights), timeout=DRAIN_SECONDS
            )
            self._drain()  # before judging a finished task: its last batch is in the mailbox already
            for ref in ready:
                flight = self._flights.pop(ref)
                self._by_run.pop(flight.run_id, None)
                self._finish(ref, flight)
                again = None
                if rerun is not None and self._status(flight.run_id) == "completed":
                    again = rerun(flight.run_id, flight.config)
                if again is not None:
                    run_id, config, scan = self._prepare(again)
                    flight.result.first_run_id = flight.run_id
                    flight.result.rerun_config = again
                    self._submit(flight.result, run_id, config, scan)
                    continue
                flight.result.run_id = flight.run_id
                if on_done is not None:
                    on_done(flight.result)
            self._poll_cancels()
            now = time.monotonic()
            if now - last_slot_check > 2.0 and self._flights:
                last_slot_check = now
                if int(self._ray.cluster_resources().get(SLOT_RESOURCE, 0)) > 0:
                    no_slot_since = None
                elif no_slot_since is None:
                    no_slot_since = now
                elif now - no_slot_since > NO_SLOT_SECONDS:
                    self._fail_waiting(f"no node of the Ray cluster offers a {SLOT_RESOURCE} slot any more")

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
                    add = getattr(self._store, "add_" + kind)
                    self._write(add, run_id, payload)

    @staticmethod
    def _write(write: Callable, *args: Any, **kwargs: Any) -> None:
        for attempt in range(20):  # another process writing the store (a local trial) holds the lock
            try:
                return write(*args, **kwargs)
            except StoreBusy:
                if attempt == 19:
                    raise
                time.sleep(0.1)

    def _finish(self, ref: Any, flight: _Flight) -> None:
        """The run's end from the task's outcome; the relayed rows are already stored."""
        exceptions = self._ray.exceptions
        run_id = flight.run_id
        requested = self._store.cancel_requested(run_id)
        try:
            outcome = self._ray.get(ref)
        except exceptions.TaskCancelledError:
            self._end(run_id, "cancelled", "cancelled on request (ray.cancel)", keep_final=True)
            return
        except exceptions.RayTaskError as exc:  # our task raised: a runner bug on the node
            self._end(run_id, "failed", f"runner error on {_node_name(flight.node)}: {exc}", keep_final=False)
            return
        except exceptions.RayError as exc:  # the node (or its worker process) went away
            if requested:
                self._end(run_id, "cancelled", "cancelled on request", keep_final=True)
            else:
                self._end(
                    run_id,
                    "interrupted",
                    f"{_node_name(flight.node)} died or left the Ray cluster during the trial "
                    f"({type(exc).__name__}); the other trials went on",
                    keep_final=False,
                )
            return
        if self._status(run_id) in _ACTIVE:  # ended before the runner stored anything (dataset check)
            self._end(run_id, outcome["status"], outcome.get("error"), keep_final=False)

    def _end(self, run_id: int, status: str, error: str | None, *, keep_final: bool) -> None:
        run = self._store.get_run(run_id)
        if keep_final and run["status"] not in _ACTIVE:
            return
        if run["status"] in ("completed",) and status == "interrupted":
            return  # the trial had finished and stored its end before the node went
        self._write(self._store.update_run, run_id, status=status, error=error, finished=time.time())

    def _poll_cancels(self) -> None:
        now = time.monotonic()
        for ref, flight in list(self._flights.items()):
            if flight.cancel_sent is None:
                if not self._store.cancel_requested(flight.run_id):
                    continue
                flight.cancel_sent = now
                self._mailbox.cancel.remote(flight.run_id)  # the runner on the node kills its worker
                if flight.node is None:
                    self._ray.cancel(ref)  # still waiting for a node: nothing runs yet
                    flight.ray_cancelled = 1
            elif now - flight.cancel_sent > CANCEL_GRACE_SECONDS * (1 + flight.ray_cancelled):
                # The runner did not end the trial in time: KeyboardInterrupt in the task, then force.
                self._ray.cancel(ref, force=flight.ray_cancelled > 0)
                flight.ray_cancelled += 1

    def _fail_waiting(self, message: str) -> None:
        for ref, flight in list(self._flights.items()):
            if flight.node is None and self._status(flight.run_id) == "queued":
                self._ray.cancel(ref)
                self._write(self._store.update_run, flight.run_id, status="failed", error=message)

    def _stop_all(self) -> None:
        """Leaving early (Ctrl-C, a callback raised): cancel what is still in flight."""
        if not getattr(self, "_flights", None):
            return
        for ref, flight in self._flights.items():
            try:
                self._mailbox.cancel.remote(flight.run_id)
                self._ray.cancel(ref, force=True)
            except Exception:  # best effort: the runs are closed below whatever Ray says
                pass
            with contextlib.suppress(Exception):
                self._end(
                    flight.run_id, "cancelled", "cancelled: the driver stopped the sweep", keep_final=True
                )
        self._flights.clear()


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
