"""A write lock held on the store by another process (issue 22 item 1): a real TensorFlow worker, a
real ``BEGIN EXCLUSIVE`` on ``runs.sqlite`` from another process.

Watching the worker (samples, budget, timeout) never waits on the store: the timeout fires on
time, a budget kill overshoots no more than without the lock, sampling has no gap, and a trial
that finished under the lock is ``completed`` with everything it measured stored.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from diagnostics.config import TrialConfig
from diagnostics.runner import run_trial
from diagnostics.store import Store
from tests.processes import gone, wait_for

pytestmark = pytest.mark.tf

REPO = Path(__file__).resolve().parents[2]
MIB = 1024**2
MAX_SAMPLE_GAP_SECONDS = 0.5  # 50 Hz sampling: anything near this is the watch loop waiting
LOCK_MAX_SECONDS = 40  # the locker lets go by itself if a test dies

# Another process holding the store's write lock until told to let go (a line on its stdin).
LOCKER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
import select
select.select([sys.stdin], [], [], float(sys.argv[2]))
conn.execute("COMMIT")
print("unlocked", flush=True)
"""


class StoreLock:
    """``BEGIN EXCLUSIVE`` on the store file in another process, held until ``release``."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(path), str(LOCK_MAX_SECONDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "locked"
        self.taken_at = time.monotonic()
        self.released_at: float | None = None

    def release(self) -> float:
        """Let go; returns how long the lock was held."""
        if self.released_at is None:
            self.proc.stdin.write("release\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline().strip() == "unlocked"
            self.released_at = time.monotonic()
            self.proc.wait(timeout=10)
        return self.released_at - self.taken_at


class Trial:
    """``run_trial`` in a thread (as the CLI runs it), watched from the test."""

    def __init__(self, home: Path, sample_data_dir: Path, **options) -> None:
        self.store = Store(home)
        config = TrialConfig(dataset=str(sample_data_dir), loader="eager_loop", **options)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(config,), daemon=True)
        self.thread.start()
        self.run_id = wait_for(lambda: [r["id"] for r in self.store.runs()], what="the run")[0]

    def _run(self, config: TrialConfig) -> None:
        try:
            run_trial(config, Store(self.store.home))
        except BaseException as exc:  # the test reports it
            self.error = exc

    def run(self) -> dict:
        return self.store.get_run(self.run_id)

    def wait_spawned(self) -> dict:
        return wait_for(lambda: (r := self.run())["worker_pid"] and r, timeout=60, what="the spawn")

    def wait_ready(self) -> None:
        def ready_or_ended() -> bool:
            return "ready" in set(self.store.events(self.run_id)["kind"]) or not self.thread.is_alive()

        wait_for(ready_or_ended, timeout=90, what="ready")
        assert self.thread.is_alive(), f"the trial ended before ready: {self.run()['error']}"

    def wait_worker_gone(self, pid: int, timeout: float = 60) -> float:
        """The monotonic time the worker was seen gone (polled every 10 ms)."""
        deadline = time.monotonic() + timeout
        while not gone(pid):
            assert time.monotonic() < deadline, "the worker outlived the test's patience"
            time.sleep(0.01)
        return time.monotonic()

    def join(self) -> dict:
        self.thread.join(timeout=90)
        assert not self.thread.is_alive(), "the runner did not finish"
        assert self.error is None, repr(self.error)
        return self.run()

    def max_sample_gap(self) -> float:
        t = self.store.samples(self.run_id)["t"]
        return float(t.diff().max())


def test_the_timeout_fires_on_time_while_another_process_holds_the_store(diag_home, sample_data_dir):
    timeout = 14.0  # ready comes 3-8 s after the spawn
    trial = Trial(diag_home, sample_data_dir, epochs=10_000, steps=1, timeout_seconds=timeout)
    run = trial.wait_spawned()
    trial.wait_ready()
    due = run["t_started"] + timeout
    assert time.monotonic() < due - 2, "ready came too late to take the lock before the timeout"
    lock = StoreLock(trial.store.path)
    gone_at = trial.wait_worker_gone(run["worker_pid"], timeout=LOCK_MAX_SECONDS)
    held = lock.release()
    run = trial.join()
    late = gone_at - due
    print(f"timeout {timeout:g} s: worker gone {late:+.3f} s after its time; lock held {held:.1f} s")
    assert run["status"] == "timed_out", run["error"]
    assert f"still running {timeout:g} s after start" in run["error"]
    assert 0 <= late < 1.0, f"the timeout fired {late:.1f} s late under the lock"
    assert trial.max_sample_gap() < MAX_SAMPLE_GAP_SECONDS


def _budget_kill(home: Path, sample_data_dir: Path, budget_bytes: int, locked: bool) -> dict:
    # keep_decoded: every decoded 224x224 float32 image stays referenced, so RSS climbs steadily.
    trial = Trial(
        home,
        sample_data_dir,
        keep_decoded=True,
        image_size=(224, 224),
        epochs=50,
        memory_budget_bytes=budget_bytes,
        timeout_seconds=90,
    )
    run = trial.wait_spawned()
    trial.wait_ready()
    lock = StoreLock(trial.store.path) if locked else None
    gone_at = trial.wait_worker_gone(run["worker_pid"], timeout=LOCK_MAX_SECONDS)
    if lock is not None:
        assert lock.released_at is None and gone_at < lock.taken_at + LOCK_MAX_SECONDS
        lock.release()
    run = trial.join()
    assert run["status"] == "killed_budget", run["error"]
    summary = run["summary"]
    return {
        "peak_tree": summary["peak_tree_rss_bytes"],
        "vmhwm": summary["peak_rss_bytes"],
        "gap": trial.max_sample_gap(),
    }


def test_a_budget_kill_under_the_lock_overshoots_no_more_than_without(tmp_path, sample_data_dir):
    budget = 1200 * MIB
    free = _budget_kill(tmp_path / "free", sample_data_dir, budget, locked=False)
    held = _budget_kill(tmp_path / "locked", sample_data_dir, budget, locked=True)
    print(
        f"budget {budget / MIB:.0f} MiB: peak tree RSS {free['peak_tree'] / MIB:.1f} MiB without the "
        f"lock, {held['peak_tree'] / MIB:.1f} MiB with it (VmHWM {free['vmhwm'] / MIB:.1f} / "
        f"{held['vmhwm'] / MIB:.1f} MiB)"
    )
    assert free["peak_tree"] > budget and held["peak_tree"] > budget
    assert held["peak_tree"] <= 1.10 * free["peak_tree"]
    assert held["vmhwm"] <= 1.10 * free["vmhwm"]
    assert held["gap"] < MAX_SAMPLE_GAP_SECONDS and free["gap"] < MAX_SAMPLE_GAP_SECONDS


def test_a_trial_that_finishes_under_the_lock_is_completed_with_everything_stored(diag_home, sample_data_dir):
    epochs = 10
    trial = Trial(diag_home, sample_data_dir, epochs=epochs, steps=2)
    run = trial.wait_spawned()
    lock = StoreLock(trial.store.path)  # right after the spawn, before the worker is ready
    trial.wait_worker_gone(run["worker_pid"], timeout=LOCK_MAX_SECONDS)
    time.sleep(0.5)  # the runner's end waits on the lock meanwhile
    assert lock.released_at is None
    held = lock.release()
    run = trial.join()
    print(f"lock held {held:.1f} s, from the spawn until after the worker exited")
    assert run["status"] == "completed", run["error"]
    assert run["error"] is None
    events = trial.store.events(trial.run_id)
    kinds = list(events["kind"])
    assert kinds.count("epoch_end") == epochs and kinds[0] == "ready" and kinds[-1] == "done"
    assert events["t"].iloc[0] > lock.taken_at  # ready, every epoch and the end came under the lock
    assert [e["index"] for e in run["summary"]["epochs"]] == list(range(epochs))
    samples = trial.store.samples(trial.run_id)
    assert samples["t"].iloc[0] - run["t_started"] < MAX_SAMPLE_GAP_SECONDS
    assert samples["t"].iloc[-1] > events["t"].iloc[-1] - MAX_SAMPLE_GAP_SECONDS  # up to the end
    assert trial.max_sample_gap() < MAX_SAMPLE_GAP_SECONDS
    assert run["summary"]["samples"] == len(samples)
