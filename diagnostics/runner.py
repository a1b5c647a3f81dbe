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
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from diagnostics import throughput
from diagnostics.config import TrialConfig, validate
from diagnostics.errors import ConfigError, DatasetError, StoreBusy, StoreError
from diagnostics.loaders import get_loader
from diagnostics.protocol import EVENT_FD_ENV, parse_event
from diagnostics.sampler import TreeSampler
from diagnostics.store import SAMPLE_COLUMNS, Store

__all__ = [
    "BUDGET_FRACTION",
    "TEST_WORKER_ENV",
    "clean_stale_trial_folders",
    "default_budget_bytes",
    "install_stop_signals",
    "default_steps",
    "join_background",
    "prepare_trial",
    "process_alive",
    "recover_interrupted",
    "recover_interrupted_sweeps",
    "SWEEP_ENDED",
    "run_prepared",
    "run_trial",
    "runner_alive",
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
    not depend on the current directory. The scan is the shared verification job's (cached).
    """
    from diagnostics import dataset

    validate(config)
    root = dataset.resolve_dataset(config.dataset, allowed_roots)
    scan = dataset.start_verification(root, home=store.home).result()
    return _create_checked(config, root, scan, store, sweep_id)


def _create_checked(
    config: TrialConfig, root: Path, scan: Any, store: Store, sweep_id: int | None
) -> tuple[int, TrialConfig, Any]:
    config, scan, code, summary = _checked(config, root, scan, store)
    run_id = store.create_run(config, summary, sweep_id=sweep_id)
    if code is not None:
        store.update_run(run_id, snippet=code)
    return run_id, config, scan


def _checked(
    config: TrialConfig, root: Path, scan: Any, store: Store
) -> tuple[TrialConfig, Any, str | None, dict]:
    """The verified scan's checks: (config with dataset path and default steps, the scan at the
    config's decoding, snippet, summary).

    Raises DatasetError for a folder the loader cannot read, ConfigError for a config the loader
    cannot express.
    """
    from diagnostics import dataset
    from diagnostics.loaders import LOADER_NAMES
    from diagnostics.loaders._common import indexed_bad_files

    scan = scan.with_decoding(config.image_size, config.color_mode, config.dtype)
    if not scan.num_images:
        raise DatasetError(f"no readable image in {root}")
    loader = get_loader(config.loader)
    blocking = [] if getattr(loader, "skips_bad_files", True) else indexed_bad_files(scan.to_dict())
    if blocking:
        shown = ", ".join(b["path"] for b in blocking[:5])
        more = f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        # Every loader that lists the files itself filters them through the scan's SKIP set.
        skipping = [n for n in LOADER_NAMES if getattr(get_loader(n), "skips_bad_files", True)]
        raise DatasetError(
            f"loader {loader.name} reads every image file in {root} and cannot skip the unreadable "
            f"ones: {shown}{more}. Move them out of the folder, or use a loader that skips them: "
            f"{', '.join(skipping)}"
        )
    summary = dataset.scan_summary(scan, skipped=dataset.loader_skips(scan, loader))
    config = config.replace(dataset=str(root))
    if config.steps is None:
        steps, reason = default_steps(summary["loader_images"], config, store)
        config = config.replace(steps=steps, extra={**config.extra, "steps_default": reason})
    # Rendered before the run is stored: the worker executes this same code, so a config the
    # loader cannot express is bad input, refused here like any other.
    return config, scan, _render_snippet(config, scan), summary


# -- trials sized for a minute ------------------------------------------------------------------

TRIAL_EPOCH_SECONDS = 20.0  # a 3-epoch trial of about a minute
MIN_DEFAULT_STEPS = 10
# Images per second assumed without a past run of this loader on this folder: below what every
# loader reaches on 2 cores at 128x128 (tf.data ~400/s, Python generators ~150/s, fit ~100/s),
# so the first trial errs short.
CONSERVATIVE_RATE = {"iterate": 100.0, "fit": 50.0}


def _past_rate(store: Store, config: TrialConfig) -> float | None:
    """Median images/s of the last completed runs of this loader and mode on this folder."""
    rates = []
    for run in reversed(store.runs(["completed"])):
        cfg = run.get("config") or {}
        if run.get("dataset_path") != config.dataset or cfg.get("loader") != config.loader:
            continue
        if cfg.get("mode") != config.mode:
            continue
        summary = run.get("summary") or {}
        rate = summary.get("steady_images_per_second") or summary.get("images_per_second")
        if rate:
            rates.append(float(rate))
        if len(rates) == 5:
            break
    return sorted(rates)[len(rates) // 2] if rates else None


def default_steps(
    num_images: int, config: TrialConfig, store: Store | None = None
) -> tuple[int | None, dict]:
    """Steps per epoch when the user set none: the whole folder if an epoch fits in
    TRIAL_EPOCH_SECONDS at the expected rate, else as many batches as do.

    Returns (steps or None for whole epochs, reason dict: text, rate_images_per_second,
    rate_source, full_epoch_seconds, num_images, steps).
    """
    past = _past_rate(store, config) if store is not None else None
    rate = past or CONSERVATIVE_RATE.get(config.mode, 50.0)
    source = (
        f"{rate:,.0f} images/s, the median of past completed {config.loader} runs on this folder"
        if past
        else f"{rate:,.0f} images/s, a conservative guess (no completed {config.loader} run on this folder yet)"
    )
    full_epoch = num_images / rate
    batch = int(config.batch_size)
    budget_images = rate * TRIAL_EPOCH_SECONDS
    steps = None
    if num_images > budget_images and num_images > MIN_DEFAULT_STEPS * batch:
        steps = max(MIN_DEFAULT_STEPS, int(budget_images // batch))
        text = (
            f"--steps {steps} (default): {num_images:,} images would take about {full_epoch:,.0f} s per "
            f"epoch at {source}; {steps} steps x {batch} = {steps * batch:,} images per epoch keep "
            f"{config.epochs} epochs near {config.epochs * TRIAL_EPOCH_SECONDS:.0f} s. The summary's "
            "projection scales cache and growth to the whole folder; set --steps to read more."
        )
    else:
        text = f"whole epochs (default): {num_images:,} images take about {full_epoch:,.0f} s per epoch at {source}"
    reason = {
        "text": text,
        "steps": steps,
        "num_images": num_images,
        "rate_images_per_second": rate,
        "rate_source": "past runs" if past else "conservative default",
        "full_epoch_seconds": full_epoch,
    }
    return steps, reason


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
                prepared = _after_verification(own, run_id, config, root, job)
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
            run_id, checked_config, scan = _create_checked(config, root, job.result(), store, sweep_id)
            plan = (run_id, (checked_config, scan), job)
        else:
            run_id = store.create_run(
                config.replace(dataset=str(root)), job.listing.to_summary(), sweep_id=sweep_id
            )
            store.update_run(run_id, scan_progress=_progress_record(job))
            plan = (run_id, None, job)
    except BaseException:
        handoff.put(None)
        raise
    thread.name = f"trial-{run_id}"
    _background[run_id] = thread
    handoff.put(plan)
    return run_id


SCAN_PROGRESS_SECONDS = 0.5
# How long a worker spawned at Run waits, idle, for its folder's verification before it is let go
# (and the queue freed): about an import's length, so a folder that changed a little keeps it.
EARLY_WAIT_SECONDS = 3.0


def _progress_record(job: Any) -> dict[str, Any]:
    done, total = job.progress()
    return {"done": done, "total": total, "bad": job.bad_count(), "finished": job.finished}


def _after_verification(
    store: Store, run_id: int, config: TrialConfig, root: Path, job: Any
) -> tuple[TrialConfig, Any] | None:
    """Wait for the folder's verification (progress on the run), then finish preparing the run:
    (config, scan), or None when it ended here (cancelled, or a folder the loader cannot use)."""
    try:
        while not job.wait(SCAN_PROGRESS_SECONDS):
            if store.cancel_requested(run_id):
                _end_early(store, run_id, "cancelled", "cancelled while the folder was being verified")
                return None
            store.update_run(run_id, scan_progress=_progress_record(job))
        store.update_run(run_id, scan_progress=_progress_record(job))
        config, scan, code, summary = _checked(config, root, job.result(), store)
    except (DatasetError, ConfigError) as exc:
        _end_early(store, run_id, "failed", str(exc))
        return None
    store.update_run(
        run_id, scan=summary, config=config, snippet=code, dataset_fingerprint=summary["fingerprint"]
    )
    return config, scan


def _end_early(store: Store, run_id: int, status: str, message: str) -> None:
    store.update_run(run_id, status=status, error=message, finished=time.time())


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


def runner_alive(run: dict) -> bool:
    """Whether the process that created (or runs) this run still lives: pid plus start time."""
    return process_alive(run.get("runner_pid"), run.get("runner_create_time"))


def process_alive(pid: int | None, create_time: float | None) -> bool:
    """Whether process ``pid`` lives and is the one that started at ``create_time`` (the owner of a
    run, a sweep or a scenario job); a zombie, a missing pid or a reused one is not alive."""
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


TRIAL_FOLDER_PREFIX = "diag-trial-"


def make_trial_folder() -> str:
    """A private temp folder named after this runner (pid + start time), for the worker's input."""
    created = _process_create_time_or_zero()
    return tempfile.mkdtemp(
        prefix=f"{TRIAL_FOLDER_PREFIX}{os.getpid()}-{created}-", dir=tempfile.gettempdir()
    )


def _process_create_time_or_zero() -> int:
    try:
        return int(psutil.Process().create_time())
    except psutil.Error:
        return 0


def clean_stale_trial_folders() -> list[str]:
    """Remove trial folders whose runner (pid + start time in the name) is gone; return them."""
    base = tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(TRIAL_FOLDER_PREFIX):
            continue
        parts = name[len(TRIAL_FOLDER_PREFIX) :].split("-")
        try:
            pid, created = int(parts[0]), int(parts[1])
        except (IndexError, ValueError):
            continue  # not ours (an older layout is removed with its TemporaryDirectory)
        if process_alive(pid, float(created) if created else None):
            continue
        path = os.path.join(base, name)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _ending_path(store: Store, run_id: int) -> Path:
    return store.home / f"run-{run_id}.ending.json"


def _write_ending(store: Store, run_id: int, status: str, error: str | None) -> None:
    """The run's end, beside the store, for when the store itself refused the final write."""
    me = psutil.Process()
    ending = {"status": status, "error": error, "runner_pid": me.pid, "runner_create_time": me.create_time()}
    try:
        _ending_path(store, run_id).write_text(json.dumps(ending))
    except OSError:
        pass  # a full disk may refuse this too; the runner still prints the cause


def recover_interrupted(store: Store) -> list[int]:
    """Close queued/running runs that no live process will finish; return their ids.

    A run whose runner left an ending file (the store refused its final write, e.g. a full disk)
    gets the status and cause recorded there, whether or not that process still lives; otherwise a
    run whose runner process is gone becomes ``interrupted``. Then sweeps whose process is gone
    become ``interrupted`` (``recover_interrupted_sweeps``). Also removes trial folders left by
    runners that ended abruptly (``clean_stale_trial_folders``).
    """
    clean_stale_trial_folders()
    recovered = []
    brief = ("id", "runner_pid", "runner_create_time", "finished", "error")
    for run in store.runs(("queued", "running"), columns=brief):
        ending_path = _ending_path(store, run["id"])
        try:
            ending = json.loads(ending_path.read_text())
        except (OSError, ValueError):
            ending = None
        if ending is not None and (
            ending.get("runner_pid") != run.get("runner_pid")
            or abs((ending.get("runner_create_time") or 0) - (run.get("runner_create_time") or 0)) >= 1.0
        ):
            ending_path.unlink(missing_ok=True)  # left by a run of an earlier store with this id
            ending = None
        if ending is not None:
            store.update_run(
                run["id"],
                status=ending.get("status") or "failed",
                error=ending.get("error"),
                finished=run.get("finished") or time.time(),
            )
            ending_path.unlink(missing_ok=True)
            recovered.append(run["id"])
            continue
        if process_alive(run.get("runner_pid"), run.get("runner_create_time")):
            continue
        store.update_run(
            run["id"],
            status="interrupted",
            finished=run.get("finished") or time.time(),
            error=run.get("error") or "the process running this trial ended before the trial did",
        )
        recovered.append(run["id"])
    recover_interrupted_sweeps(store)
    return recovered


SWEEP_ENDED = "the process running this sweep ended before the sweep did"


def recover_interrupted_sweeps(store: Store) -> list[int]:
    """Mark sweeps whose owner process is gone (pid + start time) ``interrupted``; return their ids.

    ``recover_interrupted`` calls it after closing the runs, so the trial that was running when the
    process died is already ``interrupted`` too; the trials the sweep finished keep their results.
    """
    recovered = []
    for sweep in store.active_sweeps():
        if process_alive(sweep.get("owner_pid"), sweep.get("owner_create_time")):
            continue
        completed = list(store.list_runs(sweep_id=sweep["id"])["status"]).count("completed")
        kept = f"; the {completed} trial(s) it completed are kept" if completed else ""
        error = f"{SWEEP_ENDED} (pid {sweep.get('owner_pid')}){kept}"
        store.update_sweep(sweep["id"], status="interrupted", error=error)
        recovered.append(sweep["id"])
    return recovered


# -- stop signals ----------------------------------------------------------------------------------


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM in a process that called ``install_stop_signals``; ``.how`` names it."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class _StopState:
    stopping = False  # a Stopped is on its way up: further signals add nothing
    finishing = 0  # inside _Trial._finish: the run's end is being stored and must not be cut
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


def _stop_text(exc: KeyboardInterrupt) -> str:
    return f"cancelled ({exc.how if isinstance(exc, Stopped) else 'Ctrl-C'})"


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
        self.pending_pipeline: list[dict] = []  # probe snapshots: their own tables, not events
        self.pending_composition: list[dict] = []
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.ready: dict | None = None
        self.done: dict | None = None
        self.error_event: dict | None = None
        self.sampler: TreeSampler | None = None
        self.proc: subprocess.Popen | None = None
        self.budget_bytes = config.memory_budget_bytes
        self.t_started: float | None = None
        self.peak_tree_rss_bytes = 0
        self.store_failure: str | None = None  # why the store refused rows (not a mere lock)
        self.stop: KeyboardInterrupt | None = None  # Ctrl-C / SIGTERM: re-raised once stored
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

    # The whole trial; never raises except KeyboardInterrupt-free: every outcome lands in the store.
    def run(self) -> None:
        """The whole trial. Every outcome lands in the store; a stop signal (Ctrl-C, SIGTERM) is
        re-raised once the cancelled run is stored, with ``.run_id``, so a sweep stops too."""
        lock_fd, self.lock_fd = self.lock_fd, None  # a prestarted trial already holds the queue
        status, message = "failed", None
        try:
            if lock_fd is None:
                lock_fd = self._wait_for_turn()
            if lock_fd is None:
                status, message = "cancelled", "cancelled while waiting in the queue"
            else:
                status, message = self._execute()
        except KeyboardInterrupt as exc:
            status, message = "cancelled", _stop_text(exc)
            self.stop = exc
            self._kill_tree()
        except BaseException as exc:  # a runner bug must still leave a finished run behind
            status, message = "failed", f"runner error: {type(exc).__name__}: {exc}"
            self._kill_tree()
        finally:
            _StopState.finishing += 1
            try:
                self._finish(status, message)
            finally:
                _StopState.finishing -= 1
                _StopState.stopping = False
                if lock_fd is not None:
                    fcntl.flock(lock_fd, fcntl.LOCK_UN)
                    os.close(lock_fd)
        if self.stop is None and _StopState.deferred and not _StopState.finishing:
            self.stop = Stopped(_StopState.deferred)  # arrived while the run's end was being stored
        if not _StopState.finishing:
            _StopState.deferred = None
        if self.stop is not None:
            self.stop.run_id = self.run_id
            raise self.stop

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
        # The worker's input. Removed on every exit path here; a runner killed outright leaves it
        # to clean_stale_trial_folders.
        tmp, self.folder = self.folder or make_trial_folder(), None
        try:
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
            self.store.update_run(self.run_id, worker_pid=self.proc.pid, t_started=self.t_started)
            try:
                outcome = self._watch()
            finally:
                self._kill_tree()  # stragglers (e.g. PyDataset workers) and the killed cases
                self.proc.wait()
                for reader in readers:
                    reader.join(timeout=5)
            self._collect_final_sample()
        finally:
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
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env[EVENT_FD_ENV] = str(write_fd)
        env["PYTHONUNBUFFERED"] = "1"  # log lines must arrive when printed, for their timestamps
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        test_worker = os.environ.get(TEST_WORKER_ENV)
        head = [sys.executable, test_worker] if test_worker else [sys.executable, "-m", "diagnostics.worker"]
        wait = ["--wait-for-go"] if wait_for_go else []
        try:
            self.proc = subprocess.Popen(
                [*head, "--config", str(config_path), *wait],
                stdin=subprocess.PIPE if wait_for_go else subprocess.DEVNULL,
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
                            if event["kind"] == "pipeline":
                                self.pending_pipeline.append(event)
                            elif event["kind"] == "composition":
                                self.pending_composition.append(event)
                            else:
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
                    if self.store_failure is not None:
                        self._kill_tree()  # nothing more it measures could be kept
                        raise _Outcome("failed", self.store_failure)
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
        except KeyboardInterrupt as exc:
            self.stop = exc
            self._kill_tree()
            self.proc.wait()
            return "cancelled", _stop_text(exc)

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
            batches = {
                "samples": (self.pending_samples, self.store.add_samples),
                "events": (self.pending_events, self.store.add_events),
                "logs": (self.pending_logs, self.store.add_logs),
                "pipeline": (self.pending_pipeline, self.store.add_pipeline),
                "composition": (self.pending_composition, self.store.add_composition),
            }
            self.pending_samples, self.pending_events, self.pending_logs = [], [], []
            self.pending_pipeline, self.pending_composition = [], []
        kept = {}
        # Each table on its own: one damaged table must not cost the rows the others can keep.
        for table, (rows, add) in batches.items():
            try:
                add(self.run_id, rows)
            except StoreBusy:
                kept[table] = rows  # another writer holds the lock: retry with the next flush
            except StoreError as exc:
                if self.store_failure is None:
                    self.store_failure = self._store_failure_text(table, len(rows), exc)
        with self.lock:
            self.pending_samples[:0] = kept.get("samples", [])
            self.pending_events[:0] = kept.get("events", [])
            self.pending_logs[:0] = kept.get("logs", [])
            self.pending_pipeline[:0] = kept.get("pipeline", [])
            self.pending_composition[:0] = kept.get("composition", [])

    def _store_failure_text(self, table: str, lost: int, exc: StoreError) -> str:
        path = self.store.path
        return (
            f"the store {path} refused this run's {table} ({lost} rows lost), so the trial was "
            f"stopped: {exc}. Check the disk space and `sqlite3 {path} 'PRAGMA integrity_check'`"
        )

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
                pending = (self.pending_samples, self.pending_events, self.pending_logs)
                if not any((*pending, self.pending_pipeline, self.pending_composition)):
                    break
            time.sleep(0.2)
        if self.store_failure is not None and self.store_failure not in (message or ""):
            # Rows were lost: whatever the worker did, this run cannot count as a measurement.
            status = "failed"
            message = "\n".join(m for m in (self.store_failure, message) if m)
        try:
            self._store_result(status, message)
        except StoreError as exc:
            # The store refused the run's end too (full disk, damaged file): leave the cause where
            # recover_interrupted finds it, so the run is not later blamed on a dead process.
            cause = "\n".join(m for m in (message, f"the final write failed: {exc}") if m)
            _write_ending(self.store, self.run_id, "failed" if status == "completed" else status, cause)
            raise StoreError(
                f"run {self.run_id} ended ({message or status}) but its end could not be stored: "
                f"{exc}. Free disk space or check the file with `sqlite3 {self.store.path} "
                "'PRAGMA integrity_check'`; the next run or the dashboard records the cause."
            ) from None

    def _store_result(self, status: str, message: str | None) -> None:
        if self.ready is not None:
            self._store_ready()
        # A worker that reported its own error explained itself (its traceback is in the logs); one
        # that died without a word (exit code, signal) is explained by its last stderr lines.
        if status == "failed" and self.stderr_tail and self.error_event is None and not self.store_failure:
            tail = "\n".join(list(self.stderr_tail)[-10:])
            message = f"{message}\nlast stderr lines:\n{tail}"
        peak, peak_source = self.exact_peak_bytes()
        # Analysis reads the run's stored scan summary, as every later reader of the run does.
        result = _analyze(
            self.store, self.run_id, None, peak, peak_source, self.budget_bytes, status, message
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
    samples = _frame_or_empty(store.samples, run_id, SAMPLE_COLUMNS)
    events = _frame_or_empty(store.events, run_id, ["t", "kind", "data"])
    logs = _frame_or_empty(store.logs, run_id, ["t", "stream", "line"])
    result: dict[str, Any]
    try:
        from diagnostics import analysis
    except ImportError:
        analysis = None
    try:
        if analysis is None:
            raise ImportError("diagnostics.analysis is not available")
        pipeline, composition = store.pipeline(run_id), store.composition(run_id)
        result = dict(
            analysis.analyze(run, samples, events, logs, scan, pipeline=pipeline, composition=composition)
        )
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


def _frame_or_empty(read, run_id: int, columns: list[str]):
    # A table the store cannot read (the damage that failed the run) must not also lose the others.
    try:
        return read(run_id)
    except StoreBusy:
        raise
    except StoreError:
        import pandas as pd

        return pd.DataFrame(columns=list(columns))


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
    gcs = of_kind("gc")
    fds = list(samples["fds"].dropna()) if not samples.empty else []
    return {
        "baseline_rss_bytes": ready.get("rss_bytes") if ready else None,
        "peak_rss_bytes": None,
        "peak_tree_rss_bytes": int(samples["rss_bytes"].max()) if not samples.empty else None,
        "final_rss_bytes": (done or {}).get("rss_bytes")
        or (int(samples["main_rss_bytes"].iloc[-1]) if not samples.empty else None),
        "images_per_second": throughput.images_per_second({"epochs": epochs}),
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
