"""Parent side of a trial: queue, spawn the worker, sample it, read its events, enforce limits, store.

``run_trial`` does everything in the calling thread and returns the run id; the status says how it
ended (``completed``, ``failed``, ``killed_budget``, ``timed_out``, ``cancelled``). Bad input
(``ConfigError``, ``DatasetError``) is raised before anything is stored (``diagnostics.prepare``).
A stop signal (Ctrl-C, SIGTERM; ``diagnostics.signals``) is the one ending raised to the caller:
``TrialCancelled``, once the cancelled run is stored. The worker process itself is spawned and
killed by ``diagnostics.process``; what a dead runner leaves is closed by ``diagnostics.recover``.

Why the worker is spawned from the thread that waits for it: ``PR_SET_PDEATHSIG`` fires when the
*thread* that forked the child exits, not the process, so the thread that spawns must live as long
as the worker. ``start_trial_in_background`` therefore hands the whole trial to one long-lived
thread. If the runner process dies (even by SIGKILL) the kernel sends SIGKILL to the worker; the
worker also exits when its parent pid changes (belt and braces).

One trial at a time per DIAG_HOME: an ``fcntl.flock`` on ``$DIAG_HOME/trial.lock``, polled
non-blocking so a waiting run can show its queue position and notice a cancel.

Watching the worker never waits on the store. The watch loop samples, enforces the budget and the
timeout and reads two flags; everything bound for the store (rows, the run's columns) is queued
for the trial's writer thread, which writes with a short busy timeout, keeps what another
process's lock refused for its next round, and reads cancel requests. Only the run's end waits
for a lock (``FINAL_WAIT_SECONDS``): a trial that finished is stored ``completed`` once it can be.

Timeline of a run's fields: ``t_started`` (monotonic, at spawn), ``t_ready`` (the worker's ready
event: imports done, the baseline), ``started``/``finished`` (wall clock, Unix seconds).
"""

from __future__ import annotations

import collections
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from diagnostics import signals
from diagnostics.analysis.stored import analyze_run
from diagnostics.config import TrialConfig
from diagnostics.errors import (
    BudgetExceeded,
    StoreBusy,
    StoreError,
    TrialCancelled,
    TrialFailed,
    TrialTimeout,
)
from diagnostics.host import available_ram_bytes
from diagnostics.loaders import validate
from diagnostics.prepare import (
    EARLY_WAIT_SECONDS,
    after_verification,
    create_checked,
    prepare_trial,
    progress_record,
)
from diagnostics.process import kill_tree, make_trial_folder, spawn_worker
from diagnostics.protocol import parse_event
from diagnostics.recover import write_ending
from diagnostics.sampler import TreeSampler
from diagnostics.store import Store
from diagnostics.units import MiB, format_bytes, format_mib

__all__ = [
    "BUDGET_FRACTION",
    "default_budget_bytes",
    "join_background",
    "run_prepared",
    "run_trial",
    "start_trial_in_background",
]

BUDGET_FRACTION = 0.8  # of available RAM when the trial starts
FLUSH_SECONDS = 0.2
# A write while the trial is watched waits this long for another writer's lock, then is retried.
WATCH_BUSY_TIMEOUT_MS = 100
FINAL_WAIT_SECONDS = 30.0  # how long the run's end waits for a lock held by another process
QUEUE_POLL_SECONDS = 0.1
STDERR_TAIL_LINES = 20
# The store tables a trial writes as it goes (``Store.add_<table>``), flushed every FLUSH_SECONDS.
PENDING_TABLES = ("samples", "events", "logs", "pipeline", "composition")

_background: dict[int, threading.Thread] = {}


def default_budget_bytes() -> int:
    available = available_ram_bytes()
    if available is None:  # psutil cannot read /proc/meminfo: no budget to derive
        raise RuntimeError("the available RAM cannot be read; set the trial's memory budget")
    return int(available * BUDGET_FRACTION)


def run_trial(
    config: TrialConfig,
    store: Store | None = None,
    *,
    allowed_roots: list[Path] | None = None,
    sweep_id: int | None = None,
    sample: bool = True,
) -> int:
    """Run one trial to its end in this thread; returns the run id (see the module docstring).

    ``sample=False`` takes no psutil samples (the loop still polls exit, timeout and cancel): only
    the benchmark uses it, to measure the sampler's overhead. No budget is enforced without samples.
    """
    store = store or Store()
    run_id, config, scan = prepare_trial(config, store, allowed_roots=allowed_roots, sweep_id=sweep_id)
    _Trial(store, run_id, config, scan, sample=sample).run()
    return run_id


def run_prepared(store: Store, run_id: int, config: TrialConfig, scan: Any) -> None:
    """Run a trial whose run ``prepare_trial`` (or an executor) already created, in this thread.

    ``scan`` is a ScanResult or its dict (with the file list). Executors use it to run the same
    runner elsewhere (a Ray node runs it against a node-local store).
    """
    _Trial(store, run_id, config, scan).run()


def start_trial_in_background(
    config: TrialConfig,
    store: Store | None = None,
    *,
    allowed_roots: list[Path] | None = None,
    sweep_id: int | None = None,
) -> int:
    """Validate and queue now (raising bad input here); run in a long-lived thread.

    Returns the run id at once; the run's row in the store tells how it goes. When no other trial
    holds the queue, the trial thread spawns the worker first, so it imports TensorFlow while this
    call lists the folder, checks the config and stores the run (see ``_Trial.prestart``). When the
    folder's verification is still running (a big folder just picked), the run is created from the
    listing and its thread waits for verification, storing ``scan_progress`` on the run; a folder
    the loader cannot use then ends the run ``failed`` with the DatasetError's message.
    """
    from diagnostics import dataset

    store = store or Store()
    validate(config)
    root = dataset.resolve_dataset(config.dataset, allowed_roots)
    # The trial thread gets its own Store object: SQLite connections are per thread anyway, and
    # this keeps the caller's object free of state from a thread it does not own.
    own = Store(store.home, store.busy_timeout_ms)
    handoff: queue.SimpleQueue = queue.SimpleQueue()

    def target() -> None:
        trial = _Trial(own, None, config, None)
        try:
            trial.prestart()  # the worker's import overlaps everything below, when the queue is free
        except Exception:
            trial.discard()  # spawned when its turn comes instead, as without a free queue
        plan = handoff.get()
        try:
            if plan is None:
                return  # bad input: the caller raised it
            run_id, prepared, job = plan
            if prepared is None:
                if trial.proc is not None and not job.wait(EARLY_WAIT_SECONDS):
                    trial.discard()  # a long verification: no idle worker holding the queue meanwhile
                prepared = after_verification(own, run_id, config, root, job)
                if prepared is None:
                    return
            trial.prepared(run_id, *prepared)
            trial.run()
        finally:
            trial.discard()  # no-op once the trial ran

    thread = threading.Thread(target=target, name="trial-starting", daemon=True)
    thread.start()
    try:
        job = dataset.start_verification(root, home=store.home)
        if job.finished:
            run_id, checked_config, scan = create_checked(config, root, job.result(), store, sweep_id)
            plan = (run_id, (checked_config, scan), job)
        else:
            run_id = store.create_run(
                config.replace(dataset=str(root)), job.listing.to_summary(), sweep_id=sweep_id
            )
            store.update_run(run_id, scan_progress=progress_record(job))
            plan = (run_id, None, job)
    except BaseException:
        handoff.put(None)
        raise
    thread.name = f"trial-{run_id}"
    _background[run_id] = thread
    handoff.put(plan)
    return run_id


def join_background(run_id: int, timeout: float | None = None) -> bool:
    """Wait for a background trial of this process; True when it has finished."""
    thread = _background.get(run_id)
    if thread is None:
        return True
    thread.join(timeout)
    if thread.is_alive():
        return False
    _background.pop(run_id, None)
    return True


# -- one trial -----------------------------------------------------------------------------------


def _no_rows() -> dict[str, list[dict]]:
    return {table: [] for table in PENDING_TABLES}


class _Trial:
    def __init__(
        self, store: Store, run_id: int, config: TrialConfig, scan: Any, sample: bool = True
    ) -> None:
        self.store = store
        self.sample = sample
        self.run_id = run_id
        self.config = config
        self.scan = scan
        self.lock = threading.Lock()  # guards pending and pending_run: readers, watch loop, writer
        self.pending = _no_rows()  # rows per table of PENDING_TABLES, waiting for the next flush
        self.pending_run: dict[str, Any] = {}  # the run's columns, waiting for the next flush
        self.cancel = threading.Event()  # set by the writer thread when a cancel is requested
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.ready: dict | None = None
        self.done: dict | None = None
        self.error_event: dict | None = None
        self.sampler: TreeSampler | None = None
        self.proc: subprocess.Popen | None = None
        self.budget_bytes = config.memory_budget_bytes
        self.t_started: float | None = None
        self.peak_tree_rss_bytes = 0
        self.store_failure: str | None = None  # why the store refused a write (not a mere lock)
        self.stopped_by: str | None = None  # Ctrl-C / SIGTERM: raised as TrialCancelled once stored
        # Set by prestart: the queue's lock, the trial folder and the readers of a worker spawned
        # before the run was prepared.
        self.lock_fd: int | None = None
        self.folder: str | None = None
        self.readers: list[threading.Thread] = []

    def prestart(self) -> bool:
        """Spawn the worker now if no trial holds the queue: it imports TensorFlow, then waits for
        a "go" line on its stdin before reading its config file (``prepared`` + ``run`` send it).

        Called from the thread that will run the trial (PR_SET_PDEATHSIG is per thread). False,
        and nothing started, when the queue is busy: ``run`` then waits for its turn as usual.
        """
        fd = os.open(self.store.home / "trial.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.lock_fd = fd
        try:
            self.folder = make_trial_folder()
            self._spawn(Path(self.folder) / "trial.json", wait_for_go=True)
            self.readers = self._start_readers()  # log lines keep their arrival time meanwhile
        except BaseException:
            self.discard()
            raise
        return True

    def prepared(self, run_id: int, config: TrialConfig, scan: Any) -> None:
        self.run_id, self.config, self.scan = run_id, config, scan
        if config.memory_budget_bytes is not None:
            self.budget_bytes = config.memory_budget_bytes

    def discard(self) -> None:
        """Undo what a prestart left when its run never came (bad input, long verification) or
        ``run`` stopped before taking it over; a no-op after a normal run."""
        if self.proc is not None and self.proc.returncode is None:
            self._kill_tree()
            self.proc.wait()
            for reader in self.readers:
                reader.join(timeout=5)
            self.proc, self.sampler, self.readers = None, None, []
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        if self.lock_fd is not None:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
            os.close(self.lock_fd)
            self.lock_fd = None

    def run(self) -> None:
        """The whole trial. Every outcome lands in the store; a stop signal (Ctrl-C, SIGTERM) is
        raised once the cancelled run is stored, as ``TrialCancelled`` with the run id, so a sweep
        stops too."""
        lock_fd, self.lock_fd = self.lock_fd, None  # a prestarted trial already holds the queue
        status, message = "failed", None
        try:
            if lock_fd is None:
                lock_fd = self._wait_for_turn()
            if lock_fd is None:
                status, message = "cancelled", "cancelled while waiting in the queue"
            else:
                status, message = self._execute()
        except KeyboardInterrupt as exc:  # signals.Stopped, or Ray cancelling the task
            self.stopped_by = signals.how_stopped(exc)
            status, message = "cancelled", f"cancelled ({self.stopped_by})"
            self._kill_tree()
        except BaseException as exc:  # a runner bug must still leave a finished run behind
            status, message = "failed", f"runner error: {type(exc).__name__}: {exc}"
            self._kill_tree()
        finally:
            try:
                with signals.storing_end():
                    self._finish(status, message)
            finally:
                if lock_fd is not None:
                    fcntl.flock(lock_fd, fcntl.LOCK_UN)
                    os.close(lock_fd)
        deferred = signals.take_deferred()  # arrived while the run's end was being stored
        how = self.stopped_by or deferred
        if how is not None:
            raise signals.cancelled(how, self.run_id)

    def _wait_for_turn(self) -> int | None:
        lock_path = self.store.home / "trial.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)  # O_CLOEXEC: the worker never holds it
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    pass
                if self.store.cancel_requested(self.run_id):
                    os.close(fd)
                    return None
                time.sleep(QUEUE_POLL_SECONDS)
        except BaseException:
            os.close(fd)
            raise

    def _execute(self) -> tuple[str, str | None]:
        if self.budget_bytes is None:
            self.budget_bytes = default_budget_bytes()
        self._update_run(status="running", started=time.time(), memory_budget_bytes=self.budget_bytes)
        # The worker's input. Removed on every exit path here; a runner killed outright leaves it
        # to clean_stale_trial_folders.
        tmp, self.folder = self.folder or make_trial_folder(), None
        stop_writing = threading.Event()
        writer = threading.Thread(
            target=self._write_while_watching, args=(stop_writing,), name=f"store-{self.run_id}", daemon=True
        )
        try:
            writer.start()
            config_path = Path(tmp) / "trial.json"
            scan_dict = self.scan.to_dict() if hasattr(self.scan, "to_dict") else dict(self.scan)
            # The snippet lists the folder itself (root, classes, SKIP): the worker needs neither
            # the file list nor the pixel sizes, and parsing 100k of them delays its first step.
            scan_dict.pop("sizes", None)
            scan_dict.pop("files", None)
            config_path.write_text(json.dumps({"config": self.config.to_dict(), "scan": scan_dict}))
            if self.proc is None:
                self._spawn(config_path)
                self.readers = self._start_readers()
            else:
                self._go()
            readers = self.readers
            self._update_run(worker_pid=self.proc.pid, t_started=self.t_started)
            try:
                outcome = self._watch()
            finally:
                self._kill_tree()  # stragglers (e.g. PyDataset workers) and the killed cases
                self.proc.wait()
                for reader in readers:
                    reader.join(timeout=5)
        finally:
            stop_writing.set()
            if writer.is_alive():
                writer.join()  # at most one short write away; _finish writes what is left
            shutil.rmtree(tmp, ignore_errors=True)
        return outcome

    def _go(self) -> None:
        """Tell a prestarted worker that its config file is written."""
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()
        except OSError:
            pass  # it died during its import: the watch loop reads why from its exit and stderr

    def _spawn(self, config_path: Path, wait_for_go: bool = False) -> None:
        self.proc, self.events_file, self.t_started = spawn_worker(config_path, wait_for_go=wait_for_go)
        try:
            self.sampler = TreeSampler(self.proc.pid)
        except psutil.Error:
            self.sampler = None  # exited at once; the exit code and stderr tell why

    def _start_readers(self) -> list[threading.Thread]:
        def read_events() -> None:
            with self.events_file:
                for raw in self.events_file:
                    event = parse_event(raw.decode("utf-8", "replace"))
                    if event is None:
                        continue
                    # Probe snapshots have their own tables; every other event is an event row.
                    table = event["kind"] if event["kind"] in ("pipeline", "composition") else "events"
                    self._queue(table, event)
                    if table == "events":
                        self._note_event(event)

        def read_stream(stream, name: str) -> None:
            with stream:
                for raw in stream:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    record = {"t": time.monotonic(), "stream": name, "line": line}
                    self._queue("logs", record)
                    if name == "stderr":
                        self.stderr_tail.append(line)

        threads = [
            threading.Thread(target=read_events, name=f"events-{self.run_id}", daemon=True),
            threading.Thread(target=read_stream, args=(self.proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=read_stream, args=(self.proc.stderr, "stderr"), daemon=True),
        ]
        for thread in threads:
            thread.start()
        return threads

    def _note_event(self, event: dict) -> None:
        kind = event["kind"]
        if kind == "ready":
            self.ready = event
        elif kind == "done":
            self.done = event
        elif kind == "error":
            self.error_event = event

    def _watch(self) -> tuple[str, str | None]:
        period = 1.0 / float(self.config.sample_hz)
        timeout = self.config.timeout_seconds
        next_tick = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if self.sampler is not None and self.sample:
                    sample = self.sampler.sample()
                    if sample is not None:
                        self._queue("samples", sample)
                        self.peak_tree_rss_bytes = max(self.peak_tree_rss_bytes, sample["rss_bytes"])
                        if sample["rss_bytes"] > self.budget_bytes:
                            self._kill_tree()
                            raise BudgetExceeded(self._budget_message(sample))
                if self.proc.poll() is not None:
                    return self._exit_outcome()
                if timeout is not None and now - self.t_started > timeout:
                    self._kill_tree()
                    raise TrialTimeout(
                        f"timed out: still running {timeout:g} s after start; the trial was killed",
                    )
                # Flags the writer thread sets: this loop itself never waits on the store.
                if self.store_failure is not None:
                    self._kill_tree()  # nothing more it measures could be kept
                    raise TrialFailed(self.store_failure)
                if self.cancel.is_set():
                    self._kill_tree()
                    raise TrialCancelled("cancelled on request")
                next_tick += period
                delay = next_tick - time.monotonic()
                if delay <= 0:
                    # Fell behind (loaded box): skip the missed ticks; sampling again at once would
                    # only add a sample a fraction of a millisecond after the last one.
                    delay = period
                    next_tick = time.monotonic() + period
                time.sleep(delay)
        except TrialFailed as ended:  # the trial's own end: its status and message are the run's
            self.proc.wait()
            return ended.status, str(ended)
        except KeyboardInterrupt as exc:  # signals.Stopped, or Ray cancelling the task
            self.stopped_by = signals.how_stopped(exc)
            self._kill_tree()
            self.proc.wait()
            return "cancelled", f"cancelled ({self.stopped_by})"

    def _budget_message(self, sample: dict) -> str:
        # In MiB like the tree's size, unless one decimal of MiB would round the budget to 0.0.
        budget = (
            format_mib(self.budget_bytes) if self.budget_bytes >= MiB else format_bytes(self.budget_bytes)
        )
        message = (
            f"memory budget exceeded: the worker's process tree reached {format_mib(sample['rss_bytes'], missing='?')} "
            f"(budget {budget}) {sample['t'] - self.t_started:.1f} s after start; the trial was killed"
        )
        if self.ready is None:
            # Importing TensorFlow alone takes several hundred MiB: no pipeline had been built yet.
            message += (
                " before the worker had finished importing TensorFlow, so the budget is below the "
                "import baseline itself; raise --memory-budget"
            )
        return message

    def _exit_outcome(self) -> tuple[str, str | None]:
        code = self.proc.returncode
        # Readers may still hold the last lines: let them drain before judging.
        deadline = time.monotonic() + 2.0
        while self.done is None and self.error_event is None and time.monotonic() < deadline:
            if self.events_file.closed:
                break
            time.sleep(0.02)
        if code == 0 and self.done is not None:
            return "completed", None
        if self.error_event is not None:
            err = self.error_event
            where = f" (file: {err['file']})" if err.get("file") else ""
            return "failed", f"worker error: {err.get('type')}: {err.get('message')}{where}"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            hint = " (the kernel OOM killer, or another process)" if -code == signal.SIGKILL else ""
            return "failed", f"worker killed by signal {name}{hint}"
        if code == 0:
            return "failed", "worker exited without reporting done"
        return "failed", f"worker exited with code {code}"

    def _kill_tree(self) -> None:
        if self.proc is not None:
            kill_tree(self.proc, self.sampler.pids() if self.sampler is not None else [self.proc.pid])

    def _ready_columns(self, store: Store) -> dict[str, Any]:
        ready = self.ready or {}
        versions = dict(store.get_run(self.run_id).get("versions") or {})
        for key in ("python", "tensorflow", "keras"):
            if ready.get(key):
                versions[key] = ready[key]
        if ready.get("gpus") is not None:
            versions["gpus"] = ready["gpus"]
        return {"t_ready": ready.get("t"), "versions": versions}

    def _queue(self, table: str, row: dict) -> None:
        """The one way a row waits for the store: ``_flush`` writes it with ``add_<table>``."""
        with self.lock:
            self.pending[table].append(row)

    def _update_run(self, **columns: Any) -> None:
        """The one way the run's columns change while it runs: ``_flush`` writes them."""
        with self.lock:
            self.pending_run.update(columns)

    def _write_while_watching(self, stop: threading.Event) -> None:
        """The writer thread of ``_execute``: flush every FLUSH_SECONDS through connections that
        give up on a lock after WATCH_BUSY_TIMEOUT_MS, store the ready columns, notice a cancel."""
        store = self.store.with_busy_timeout(WATCH_BUSY_TIMEOUT_MS)
        ready_queued = False
        try:
            while self.store_failure is None:
                try:
                    if not ready_queued and self.ready is not None:
                        self._update_run(**self._ready_columns(store))
                        ready_queued = True
                    self._flush(store)
                    if store.cancel_requested(self.run_id):
                        self.cancel.set()
                except StoreBusy:
                    pass  # a read met the lock: read again next round
                except StoreError as exc:
                    self.store_failure = self._store_failure_text("row in runs", exc)
                if stop.wait(FLUSH_SECONDS):
                    return
        finally:
            store.close()

    def _flush(self, store: Store) -> bool:
        """Write what is pending; False when another writer's lock kept some of it for later."""
        with self.lock:
            batches, self.pending = self.pending, _no_rows()
            columns, self.pending_run = self.pending_run, {}
        kept: dict[str, list[dict]] = {}
        busy = False
        try:
            if columns:
                store.update_run(self.run_id, **columns)
        except StoreBusy:
            busy = True
        except StoreError as exc:
            if self.store_failure is None:
                self.store_failure = self._store_failure_text("row in runs", exc)
        # Each table on its own: one damaged table must not cost the rows the others can keep.
        for table, rows in batches.items():
            if busy:  # the lock is the file's: the other tables would only wait for it again
                kept[table] = rows
                continue
            try:
                getattr(store, f"add_{table}")(self.run_id, rows)
            except StoreBusy:
                busy = True
                kept[table] = rows
            except StoreError as exc:
                if self.store_failure is None:
                    self.store_failure = self._store_failure_text(f"{table} ({len(rows)} rows lost)", exc)
        if busy:
            with self.lock:  # back in front of what arrived meanwhile; newer columns win
                self.pending_run = {**columns, **self.pending_run} if columns else self.pending_run
                for table, rows in kept.items():
                    self.pending[table][:0] = rows
        return not busy

    def _store_failure_text(self, what: str, exc: StoreError) -> str:
        path = self.store.path
        return (
            f"the store {path} refused this run's {what}, so the trial was "
            f"stopped: {exc}. Check the disk space and `sqlite3 {path} 'PRAGMA integrity_check'`"
        )

    def exact_peak_bytes(self) -> tuple[int | None, str]:
        if self.done is not None and self.done.get("vmhwm_bytes"):
            return int(self.done["vmhwm_bytes"]), "worker VmHWM at exit"
        if self.sampler is not None and self.sampler.last_vmhwm_bytes is not None:
            return self.sampler.last_vmhwm_bytes, "last sampled VmHWM"
        return None, "unknown"

    def _finish(self, status: str, message: str | None) -> None:
        # Nothing is watched any more: the end may wait for another process's lock, so that a
        # finished trial is stored as one, with every row it measured.
        deadline = time.monotonic() + FINAL_WAIT_SECONDS
        while not self._flush(self.store) and time.monotonic() < deadline:
            time.sleep(FLUSH_SECONDS)
        if self.store_failure is not None and self.store_failure not in (message or ""):
            # Rows were lost: whatever the worker did, this run cannot count as a measurement.
            status = "failed"
            message = "\n".join(m for m in (self.store_failure, message) if m)
        try:
            while True:
                try:
                    self._store_result(status, message)
                    break
                except StoreBusy:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(FLUSH_SECONDS)
        except StoreError as exc:
            # The store refused the run's end too (full disk, damaged file): leave the cause where
            # recover_interrupted finds it, so the run is not later blamed on a dead process.
            cause = "\n".join(m for m in (message, f"the final write failed: {exc}") if m)
            write_ending(self.store, self.run_id, "failed" if status == "completed" else status, cause)
            raise StoreError(
                f"run {self.run_id} ended ({message or status}) but its end could not be stored: "
                f"{exc}. Free disk space or check the file with `sqlite3 {self.store.path} "
                "'PRAGMA integrity_check'`; the next run or the dashboard records the cause."
            ) from None

    def _store_result(self, status: str, message: str | None) -> None:
        ready = self._ready_columns(self.store) if self.ready is not None else {}
        # A worker that reported its own error explained itself (its traceback is in the logs); one
        # that died without a word (exit code, signal) is explained by its last stderr lines.
        if status == "failed" and self.stderr_tail and self.error_event is None and not self.store_failure:
            tail = "\n".join(list(self.stderr_tail)[-10:])
            message = f"{message}\nlast stderr lines:\n{tail}"
        peak, peak_source = self.exact_peak_bytes()
        # Analysis reads the run's stored scan summary, as every later reader of the run does.
        result = analyze_run(
            self.store,
            self.run_id,
            status=status,
            message=message,
            peak_bytes=peak,
            peak_source=peak_source,
            budget_bytes=self.budget_bytes,
        )
        error = message
        if result.get("analysis_error"):
            error = "\n".join(m for m in (message, result["analysis_error"]) if m)
        self.store.update_run(
            self.run_id,
            **ready,
            status=status,
            error=error,
            summary=result["summary"],
            findings=result["findings"],
            log_groups=result["log_groups"],
            finished=time.time(),
        )
