"""Worker processes: the owner identity of a run, a sweep or a scenario job (pid plus start time,
since pids are reused), and the spawn, input folder and kill of a trial's worker process tree.

The worker is spawned in its own process group and with ``PR_SET_PDEATHSIG``: the kernel kills it
when the *thread* that spawned it exits, so the runner spawns from the thread that waits for it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from diagnostics.protocol import EVENT_FD_ENV

__all__ = [
    "TEST_WORKER_ENV",
    "TRIAL_FOLDER_PREFIX",
    "kill_tree",
    "make_trial_folder",
    "process_alive",
    "process_create_time",
    "spawn_worker",
    "trial_folder_owner",
]

TEST_WORKER_ENV = "DIAG_TEST_WORKER"  # a script to run instead of ``-m diagnostics.worker``
TRIAL_FOLDER_PREFIX = "diag-trial-"
_PR_SET_PDEATHSIG = 1
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)

_libc = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: preexec_fn must not import


def process_create_time(pid: int | None = None) -> float | None:
    """Start time of process ``pid`` (default: this one); with the pid it names an owner process."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # psutil missing or the process gone: the liveness check then uses pid only
        return None


def process_alive(pid: int | None, create_time: float | None) -> bool:
    """Whether process ``pid`` lives and is the one that started at ``create_time`` (the owner of a
    run, a sweep or a scenario job); a zombie, a missing pid or a reused one is not alive."""
    if pid is None:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        # A reused pid has a different start time.
        return create_time is None or abs(proc.create_time() - create_time) < 1.0
    except psutil.Error:
        return False


# -- the worker's input folder ---------------------------------------------------------------------


def make_trial_folder() -> str:
    """A private temp folder named after this runner (pid + start time), for the worker's input."""
    created = int(process_create_time() or 0)
    return tempfile.mkdtemp(
        prefix=f"{TRIAL_FOLDER_PREFIX}{os.getpid()}-{created}-", dir=tempfile.gettempdir()
    )


def trial_folder_owner(name: str) -> tuple[int, float | None] | None:
    """The runner (pid, start time or None) named by a ``make_trial_folder`` folder name; None for
    a name that is not one (an older layout is removed with its TemporaryDirectory)."""
    if not name.startswith(TRIAL_FOLDER_PREFIX):
        return None
    parts = name[len(TRIAL_FOLDER_PREFIX) :].split("-")
    try:
        pid, created = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None
    return pid, float(created) if created else None


# -- spawn and kill ----------------------------------------------------------------------------------


def _child_setup() -> None:
    # Runs in the child between fork and exec: die with the spawning thread, own process group
    # (so the whole tree can be killed at once and the terminal's Ctrl-C reaches only the runner).
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setpgid(0, 0)


def spawn_worker(config_path: Path, *, wait_for_go: bool = False) -> tuple[subprocess.Popen, BinaryIO, float]:
    """Start the worker on ``config_path``; returns (process, read end of its event pipe, monotonic
    spawn time).

    ``wait_for_go``: the worker imports TensorFlow, then waits for a "go" line on its stdin before
    reading its config file. Call from the thread that waits for the worker (PR_SET_PDEATHSIG).

    The worker's TMPDIR is ``tmp`` in the config file's folder (the trial folder the runner
    removes): what it leaves there when killed (AutoGraph's generated modules, a file cache) goes
    with the folder.
    """
    tmpdir = config_path.parent / "tmp"
    tmpdir.mkdir(exist_ok=True)
    read_fd, write_fd = os.pipe()
    env = dict(os.environ)
    env["TMPDIR"] = str(tmpdir)
    env[EVENT_FD_ENV] = str(write_fd)
    env["PYTHONUNBUFFERED"] = "1"  # log lines must arrive when printed, for their timestamps
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    test_worker = os.environ.get(TEST_WORKER_ENV)
    head = [sys.executable, test_worker] if test_worker else [sys.executable, "-m", "diagnostics.worker"]
    wait = ["--wait-for-go"] if wait_for_go else []
    try:
        proc = subprocess.Popen(
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
    return proc, os.fdopen(read_fd, "rb"), time.monotonic()


def kill_tree(proc: subprocess.Popen, pids: list[int]) -> None:
    """SIGKILL the worker's process group, the ``pids`` known in its tree and its children now."""
    import psutil

    pids = list(pids)
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
