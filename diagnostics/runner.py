"""Parent side of a trial: queue, spawn the worker, sample it, read its events, enforce limits, store.

``run_trial`` does everything in the calling thread and returns the run id; the status says how it
ended (``completed``, ``failed``, ``killed_budget``, ``timed_out``, ``cancelled``). Bad input
(``ConfigError``, ``DatasetError``) is raised before anything is stored.

Why the worker is spawned from the thread that waits for it: ``PR_SET_PDEATHSIG`` fires when the
*thread* that forked the child exits, not the process, so the thread that spawns must live as long
as the worker. ``start_trial_in_background`` therefore hands the whole trial to one long-lived
thread. If the runner process dies (even by SIGKILL) the kernel sends SIGKILL to the worker; the
worker also exits when its parent pid changes (belt and braces).

One trial at a time per DIAG_HOME: an ``fcntl.flock`` on ``$DIAG_HOME/trial.lock``, polled
non-blocking so a waiting run can show its queue position and notice a cancel.

Timeline of a run's fields: ``t_started`` (monotonic, at spawn), ``t_ready`` (the worker's ready
event: imports done, the baseline), ``started``/``finished`` (wall clock, Unix seconds).
"""

from __future__ import annotations

import collections
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from diagnostics.config import TrialConfig, validate
from diagnostics.errors import DatasetError, StoreError
from diagnostics.loaders import get_loader
from diagnostics.protocol import EVENT_FD_ENV, parse_event
from diagnostics.sampler import TreeSampler
from diagnostics.store import Store

__all__ = [
    "BUDGET_FRACTION",
    "TEST_WORKER_ENV",
    "default_budget_bytes",
    "join_background",
    "prepare_trial",
    "recover_interrupted",
    "run_trial",
    "start_trial_in_background",
]

TEST_WORKER_ENV = "DIAG_TEST_WORKER"
BUDGET_FRACTION = 0.8  # of available RAM when the trial starts
FLUSH_SECONDS = 0.2
QUEUE_POLL_SECONDS = 0.1
STDERR_TAIL_LINES = 20
_PR_SET_PDEATHSIG = 1
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)

_libc = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: preexec_fn must not import
_background: dict[int, threading.Thread] = {}


def default_budget_bytes() -> int:
    return int(psutil.virtual_memory().available * BUDGET_FRACTION)


def _child_setup() -> None:
    # Runs in the child between fork and exec: die with the spawning thread, own process group
    # (so the whole tree can be killed at once and the terminal's Ctrl-C reaches only the runner).
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setpgid(0, 0)


def _mib(n: float | None) -> str:
    return "?" if n is None else f"{n / 1024**2:.1f} MiB"


# -- preparation ---------------------------------------------------------------------------------


def prepare_trial(
    config: TrialConfig,
    store: Store,
    *,
    allowed_roots: list[Path] | None = None,
    sweep_id: int | None = None,
) -> tuple[int, TrialConfig, Any]:
    """Validate and scan, then create the queued run. Returns (run_id, config, scan).

    The stored config names the dataset by its resolved path, so the worker and later readers do
    not depend on the current directory.
    """
    from diagnostics import dataset

    validate(config)
    root = dataset.resolve_dataset(config.dataset, allowed_roots)
    scan = dataset.scan(root, image_size=config.image_size, color_mode=config.color_mode, dtype=config.dtype)
    if not scan.num_images:
        raise DatasetError(f"no readable image in {root}")
    loader = get_loader(config.loader)
    if scan.bad_files and not getattr(loader, "skips_bad_files", True):
        shown = ", ".join(b["path"] for b in scan.bad_files[:5])
        more = f" and {len(scan.bad_files) - 5} more" if len(scan.bad_files) > 5 else ""
        raise DatasetError(
            f"loader {loader.name} reads every file in {root} and cannot skip the unreadable ones: "
            f"{shown}{more}. Move them out of the folder, or use a loader that skips them "
            "(tfdata_map_batch, eager_loop, pil_generator, ...)"
        )
    config = config.replace(dataset=str(root))
    # Rendered before the run is stored: the worker executes this same code, so a config the
    # loader cannot express is bad input, refused here like any other.
    code = _render_snippet(config, scan)
    run_id = store.create_run(config, scan, sweep_id=sweep_id)
    if code is not None:
        store.update_run(run_id, snippet=code)
    return run_id, config, scan


def _render_snippet(config: TrialConfig, scan: Any) -> str | None:
    import importlib

    try:
        snippet = importlib.import_module("diagnostics.snippet")
    except ModuleNotFoundError as exc:
        if exc.name != "diagnostics.snippet":
            raise
        return None  # a checkout without the snippet module still measures; the run just has no code
    return snippet.render(config, scan)


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


def start_trial_in_background(
    config: TrialConfig,
    store: Store | None = None,
    *,
    allowed_roots: list[Path] | None = None,
    sweep_id: int | None = None,
) -> int:
    """Validate, scan and queue now (raising bad input here); run in a long-lived thread.

    Returns the run id at once; the run's row in the store tells how it goes.
    """
    store = store or Store()
    run_id, config, scan = prepare_trial(config, store, allowed_roots=allowed_roots, sweep_id=sweep_id)
    # The trial thread gets its own Store object: SQLite connections are per thread anyway, and
    # this keeps the caller's object free of state from a thread it does not own.
    trial = _Trial(Store(store.home, store.busy_timeout_ms), run_id, config, scan)
    thread = threading.Thread(target=trial.run, name=f"trial-{run_id}", daemon=True)
    _background[run_id] = thread
    thread.start()
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


def _runner_alive(pid: int | None, create_time: float | None) -> bool:
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        # A reused pid has a different start time.
        return create_time is None or abs(proc.create_time() - create_time) < 1.0
    except psutil.Error:
        return False


def recover_interrupted(store: Store) -> list[int]:
    """Mark queued/running runs whose runner process is gone as ``interrupted``; return their ids."""
    recovered = []
    for run in store.active_runs():
        if _runner_alive(run.get("runner_pid"), run.get("runner_create_time")):
            continue
        store.update_run(
            run["id"],
            status="interrupted",
            finished=run.get("finished") or time.time(),
            error=run.get("error") or "the process running this trial ended before the trial did",
        )
        recovered.append(run["id"])
    return recovered


# -- one trial -----------------------------------------------------------------------------------


class _Outcome(Exception):
    """Internal: ends the watch loop with a status and message."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Trial:
    def __init__(
        self, store: Store, run_id: int, config: TrialConfig, scan: Any, sample: bool = True
    ) -> None:
        self.store = store
        self.sample = sample
        self.run_id = run_id
        self.config = config
        self.scan = scan
        self.lock = threading.Lock()
        self.pending_samples: list[dict] = []
        self.pending_events: list[dict] = []
        self.pending_logs: list[dict] = []
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.ready: dict | None = None
        self.done: dict | None = None
        self.error_event: dict | None = None
        self.sampler: TreeSampler | None = None
        self.proc: subprocess.Popen | None = None
        self.budget_bytes = config.memory_budget_bytes
        self.t_started: float | None = None
        self.peak_tree_rss_bytes = 0

    # The whole trial; never raises except KeyboardInterrupt-free: every outcome lands in the store.
    def run(self) -> None:
        lock_fd = None
        status, message = "failed", None
        try:
            lock_fd = self._wait_for_turn()
            if lock_fd is None:
                status, message = "cancelled", "cancelled while waiting in the queue"
            else:
                status, message = self._execute()
        except KeyboardInterrupt:
            status, message = "cancelled", "cancelled (Ctrl-C)"
            self._kill_tree()
        except BaseException as exc:  # a runner bug must still leave a finished run behind
            status, message = "failed", f"runner error: {type(exc).__name__}: {exc}"
            self._kill_tree()
        finally:
            try:
                self._finish(status, message)
            finally:
                if lock_fd is not None:
                    fcntl.flock(lock_fd, fcntl.LOCK_UN)
                    os.close(lock_fd)

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
        self.store.update_run(
            self.run_id, status="running", started=time.time(), memory_budget_bytes=self.budget_bytes
        )
        with tempfile.TemporaryDirectory(prefix="diag-trial-") as tmp:
            config_path = Path(tmp) / "trial.json"
            scan_dict = self.scan.to_dict() if hasattr(self.scan, "to_dict") else self.scan
            config_path.write_text(json.dumps({"config": self.config.to_dict(), "scan": scan_dict}))
            self._spawn(config_path)
            readers = self._start_readers()
            try:
                outcome = self._watch()
            finally:
                self._kill_tree()  # stragglers (e.g. PyDataset workers) and the killed cases
                self.proc.wait()
                for reader in readers:
                    reader.join(timeout=5)
            self._collect_final_sample()
        return outcome

    def _spawn(self, config_path: Path) -> None:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env[EVENT_FD_ENV] = str(write_fd)
        env["PYTHONUNBUFFERED"] = "1"  # log lines must arrive when printed, for their timestamps
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        test_worker = os.environ.get(TEST_WORKER_ENV)
        head = [sys.executable, test_worker] if test_worker else [sys.executable, "-m", "diagnostics.worker"]
        try:
            self.proc = subprocess.Popen(
                [*head, "--config", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,),
                env=env,
                preexec_fn=_child_setup,  # noqa: PLW1509 - only an async-signal-safe prctl + setpgid
            )
        finally:
            os.close(write_fd)  # the worker holds the only write end: EOF means it is gone
        self.t_started = time.monotonic()
        self.events_file = os.fdopen(read_fd, "rb")
        self.store.update_run(self.run_id, worker_pid=self.proc.pid, t_started=self.t_started)
        try:
            self.sampler = TreeSampler(self.proc.pid)
        except psutil.Error:
            self.sampler = None  # exited at once; the exit code and stderr tell why

    def _start_readers(self) -> list[threading.Thread]:
        def read_events() -> None:
            with self.events_file:
                for raw in self.events_file:
                    event = parse_event(raw.decode("utf-8", "replace"))
                    if event is not None:
                        with self.lock:
                            self.pending_events.append(event)
                            self._note_event(event)

        def read_stream(stream, name: str) -> None:
            with stream:
                for raw in stream:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    record = {"t": time.monotonic(), "stream": name, "line": line}
                    with self.lock:
                        self.pending_logs.append(record)
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
        last_flush = next_tick
        ready_stored = False
        try:
            while True:
                now = time.monotonic()
                if self.sampler is not None and self.sample:
                    sample = self.sampler.sample()
                    if sample is not None:
                        with self.lock:
                            self.pending_samples.append(sample)
                        self.peak_tree_rss_bytes = max(self.peak_tree_rss_bytes, sample["rss_bytes"])
                        if sample["rss_bytes"] > self.budget_bytes:
                            self._kill_tree()
                            raise _Outcome("killed_budget", self._budget_message(sample))
                if self.proc.poll() is not None:
                    return self._exit_outcome()
                if timeout is not None and now - self.t_started > timeout:
                    self._kill_tree()
                    raise _Outcome(
                        "timed_out",
                        f"timed out: still running {timeout:g} s after start; the trial was killed",
                    )
                if now - last_flush >= FLUSH_SECONDS:
                    last_flush = now
                    self._flush()
                    if not ready_stored and self.ready is not None:
                        ready_stored = True
                        self._store_ready()
                    if self.store.cancel_requested(self.run_id):
                        self._kill_tree()
                        raise _Outcome("cancelled", "cancelled on request")
                next_tick += period
                delay = next_tick - time.monotonic()
                if delay <= 0:
                    # Fell behind (loaded box): skip the missed ticks; sampling again at once would
                    # only add a sample a fraction of a millisecond after the last one.
                    delay = period
                    next_tick = time.monotonic() + period
                time.sleep(delay)
        except _Outcome as outcome:
            self.proc.wait()
            return outcome.status, outcome.message
        except KeyboardInterrupt:
            self._kill_tree()
            self.proc.wait()
            return "cancelled", "cancelled (Ctrl-C)"

    def _budget_message(self, sample: dict) -> str:
        message = (
            f"memory budget exceeded: the worker's process tree reached {_mib(sample['rss_bytes'])} "
            f"(budget {_mib(self.budget_bytes)}) {sample['t'] - self.t_started:.1f} s after start; "
            "the trial was killed"
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
        proc = self.proc
        if proc is None:
            return
        pids = self.sampler.pids() if self.sampler is not None else [proc.pid]
        try:
            pids += [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        except psutil.Error:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker leads its own process group
        except (ProcessLookupError, PermissionError):
            pass
        for pid in set(pids):
            if pid != proc.pid or proc.returncode is None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def _collect_final_sample(self) -> None:
        pass  # the worker is gone; its last VmHWM is in sampler.last_vmhwm_bytes

    def _store_ready(self) -> None:
        ready = self.ready or {}
        versions = dict(self.store.get_run(self.run_id).get("versions") or {})
        for key in ("python", "tensorflow", "keras"):
            if ready.get(key):
                versions[key] = ready[key]
        if ready.get("gpus") is not None:
            versions["gpus"] = ready["gpus"]
        self.store.update_run(self.run_id, t_ready=ready.get("t"), versions=versions)

    def _flush(self) -> None:
        with self.lock:
            samples, events, logs = self.pending_samples, self.pending_events, self.pending_logs
            self.pending_samples, self.pending_events, self.pending_logs = [], [], []
        try:
            self.store.add_samples(self.run_id, samples)
            samples = []
            self.store.add_events(self.run_id, events)
            events = []
            self.store.add_logs(self.run_id, logs)
            logs = []
        except StoreError:
            # A briefly locked store must not end the trial: keep the rows for the next flush.
            with self.lock:
                self.pending_samples[:0] = samples
                self.pending_events[:0] = events
                self.pending_logs[:0] = logs

    def exact_peak_bytes(self) -> tuple[int | None, str]:
        if self.done is not None and self.done.get("vmhwm_bytes"):
            return int(self.done["vmhwm_bytes"]), "worker VmHWM at exit"
        if self.sampler is not None and self.sampler.last_vmhwm_bytes is not None:
            return self.sampler.last_vmhwm_bytes, "last sampled VmHWM"
        return None, "unknown"

    def _finish(self, status: str, message: str | None) -> None:
        for _ in range(3):
            self._flush()
            with self.lock:
                if not (self.pending_samples or self.pending_events or self.pending_logs):
                    break
            time.sleep(0.2)
        if self.ready is not None:
            self._store_ready()
        # A worker that reported its own error explained itself (its traceback is in the logs); one
        # that died without a word (exit code, signal) is explained by its last stderr lines.
        if status == "failed" and self.stderr_tail and self.error_event is None:
            tail = "\n".join(list(self.stderr_tail)[-10:])
            message = f"{message}\nlast stderr lines:\n{tail}"
        peak, peak_source = self.exact_peak_bytes()
        result = _analyze(
            self.store, self.run_id, self.scan, peak, peak_source, self.budget_bytes, status, message
        )
        error = message
        if result.get("analysis_error"):
            error = "\n".join(m for m in (message, result["analysis_error"]) if m)
        self.store.update_run(
            self.run_id,
            status=status,
            error=error,
            summary=result["summary"],
            findings=result["findings"],
            log_groups=result["log_groups"],
            finished=time.time(),
        )


# -- analysis ------------------------------------------------------------------------------------


def _analyze(
    store: Store,
    run_id: int,
    scan: Any,
    peak: int | None,
    peak_source: str,
    budget: int | None,
    status: str,
    message: str | None,
) -> dict[str, Any]:
    # Analysis sees the run as it ended (the row still says "running" until the final update).
    run = {**store.get_run(run_id), "status": status, "error": message}
    samples, events, logs = store.samples(run_id), store.events(run_id), store.logs(run_id)
    result: dict[str, Any]
    try:
        from diagnostics import analysis
    except ImportError:
        analysis = None
    try:
        if analysis is None:
            raise ImportError("diagnostics.analysis is not available")
        result = dict(analysis.analyze(run, samples, events, logs, scan))
    except Exception as exc:  # an analysis bug must not lose the measured run
        result = {
            "summary": basic_summary(samples, events),
            "findings": [],
            "log_groups": [],
            "analysis_error": f"analysis failed: {type(exc).__name__}: {exc}",
        }
    summary = dict(result.get("summary") or {})
    # analysis reads the same peak from the frames (done event, else sampled VmHWM); the runner's
    # own reading only fills the gap when analysis could not run.
    if summary.get("peak_rss_bytes") is None and peak is not None:
        summary["peak_rss_bytes"] = peak
        summary["peak_source"] = peak_source
    summary.setdefault("memory_budget_bytes", budget)
    result["summary"] = summary
    result.setdefault("findings", [])
    result.setdefault("log_groups", [])
    return result


def basic_summary(samples, events) -> dict[str, Any]:
    """Headline numbers straight from the frames; used only when ``analysis.analyze`` fails."""

    def of_kind(kind: str) -> list[dict]:
        if events.empty:
            return []
        rows = events[events["kind"] == kind]
        return [{"t": t, **data} for t, data in zip(rows["t"], rows["data"], strict=True)]

    ready = (of_kind("ready") or [None])[0]
    done = (of_kind("done") or [None])[-1]
    epochs = []
    for e in of_kind("epoch_end"):
        seconds = e.get("seconds") or 0
        epochs.append(
            {
                "index": e.get("epoch"),
                "images": e.get("images"),
                "seconds": seconds,
                "images_per_second": (e.get("images") or 0) / seconds if seconds else None,
                "rss_end_bytes": e.get("rss_bytes"),
            }
        )
    total_images = sum(e["images"] or 0 for e in epochs)
    total_seconds = sum(e["seconds"] or 0 for e in epochs)
    gcs = of_kind("gc")
    fds = list(samples["fds"].dropna()) if not samples.empty else []
    return {
        "baseline_rss_bytes": ready.get("rss_bytes") if ready else None,
        "peak_rss_bytes": None,
        "peak_tree_rss_bytes": int(samples["rss_bytes"].max()) if not samples.empty else None,
        "final_rss_bytes": (done or {}).get("rss_bytes")
        or (int(samples["main_rss_bytes"].iloc[-1]) if not samples.empty else None),
        "images_per_second": total_images / total_seconds if total_seconds else None,
        "leak_bytes_per_epoch": None,
        "fds": {"start": fds[0], "max": max(fds), "end": fds[-1]} if fds else None,
        "gc": {
            "collections": [sum(g["collections"][i] for g in gcs) for i in range(3)] if gcs else [0, 0, 0],
            "pause_seconds": sum(g.get("pause_seconds") or 0 for g in gcs),
        },
        "samples": int(len(samples)),
        "duration_seconds": float(samples["t"].iloc[-1] - samples["t"].iloc[0]) if len(samples) > 1 else 0.0,
        "epochs": epochs,
    }
