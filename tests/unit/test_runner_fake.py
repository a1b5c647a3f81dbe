"""The runner against the FakeWorker (tests/fakes/fake_worker.py): a real subprocess, no TensorFlow."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from diagnostics import signals
from diagnostics.cli._summary import print_run_summary
from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError, DatasetError, TrialCancelled
from diagnostics.export import run_json
from diagnostics.recover import recover_interrupted
from diagnostics.runner import join_background, run_trial, start_trial_in_background
from diagnostics.store import Store
from tests.processes import gone, wait_for

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "fakes" / "fake_worker.py"
MIB = 1024**2


@pytest.fixture
def store(diag_home, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.2")
    return Store(diag_home)


@pytest.fixture
def config(sample_data_dir):
    return TrialConfig(dataset=str(sample_data_dir), epochs=2)


def test_normal_run_stores_events_samples_logs_and_summary(store, config):
    run_id = run_trial(config, store)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    assert run["error"] is None
    events = store.events(run_id)
    kinds = list(events["kind"])
    assert kinds[0] == "ready" and kinds[-1] == "done"
    assert kinds.count("epoch_end") == 2 and kinds.count("gc") == 2 and "step" in kinds
    done = events[events["kind"] == "done"]["data"].iloc[0]
    summary = run["summary"]
    assert summary["peak_rss_bytes"] == done["vmhwm_bytes"]
    assert [e["images"] for e in summary["epochs"]] == [550, 550]
    logs = store.logs(run_id)
    assert "fake worker starting" in set(logs[logs["stream"] == "stdout"]["line"])
    assert any("scripted warning" in line for line in logs[logs["stream"] == "stderr"]["line"])
    samples = store.samples(run_id)
    assert len(samples) >= 10
    assert (samples["rss_bytes"] >= samples["main_rss_bytes"]).all()
    assert samples["vmhwm_bytes"].notna().all()
    assert run["t_ready"] == events["t"].iloc[0] and run["worker_pid"] > 0
    assert run["started"] <= run["finished"]
    assert run["memory_budget_bytes"] > 0  # default: 80% of available RAM
    assert run["dataset_path"] == str(Path(config.dataset).resolve())
    assert run_json(store, run_id)["summary"]["peak_rss_bytes"] == done["vmhwm_bytes"]
    assert gone(run["worker_pid"])


def test_sample_rate_holds_at_50_hz(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "1.0")
    run_id = run_trial(config, store)
    samples = store.samples(run_id)
    span = samples["t"].iloc[-1] - samples["t"].iloc[0]
    assert span > 1.5
    assert len(samples) / span >= 20, f"{len(samples)} samples over {span:.2f} s"


def test_budget_kill_keeps_samples_and_says_when_and_how_big(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "grow")
    budget = 150 * MIB
    run_id = run_trial(config.replace(memory_budget_bytes=budget), store)
    run = store.get_run(run_id)
    assert run["status"] == "killed_budget"
    assert run["summary"]["status"] == "killed_budget"  # analysis saw the final status
    assert "memory budget exceeded" in run["error"] and "s after start" in run["error"]
    assert "budget 150.0 MiB" in run["error"]
    samples = store.samples(run_id)
    assert len(samples) > 5
    assert samples["rss_bytes"].iloc[-1] > budget  # the sample that crossed is kept
    assert (samples["rss_bytes"].iloc[:-1] <= budget).all()
    # Killed before done: the peak falls back to the sampled VmHWM.
    assert run["summary"]["peak_rss_bytes"] >= samples["rss_bytes"].iloc[-1] - 5 * MIB
    assert gone(run["worker_pid"])


def test_a_worker_stopped_before_ready_prints_no_baseline_and_its_true_budget(store, config, capsys):
    # 1 KiB: the very first sample, taken at the spawn, is over it (issue 22 item 10).
    run_id = run_trial(config.replace(memory_budget_bytes=1024), store)
    run = store.get_run(run_id)
    assert run["status"] == "killed_budget"
    assert "ready" not in set(store.events(run_id)["kind"])
    assert "(budget 1.0 KiB)" in run["error"] and "0.0 MiB" not in run["error"]
    assert run["summary"]["baseline_rss_bytes"] is None
    print_run_summary(store, run_id)
    out = capsys.readouterr().out
    assert "RSS at ready" not in out
    assert "baseline     none: the worker stopped before ready (imports unfinished)" in out


def test_timeout(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "hang")
    started = time.monotonic()
    run_id = run_trial(config.replace(timeout_seconds=1.5), store)
    elapsed = time.monotonic() - started
    run = store.get_run(run_id)
    assert run["status"] == "timed_out" and "1.5 s" in run["error"]
    assert 1.5 <= elapsed < 8
    assert len(store.samples(run_id)) > 10
    assert gone(run["worker_pid"])


def test_a_store_locked_by_another_writer_delays_rows_never_the_timeout(store, config, monkeypatch):
    # The real-worker version, with the budget and a finished trial: tests/integration/test_store_lock.py
    monkeypatch.setenv("FAKE_MODE", "hang")
    held = threading.Event()

    def hold_the_lock() -> None:
        run = wait_for(lambda: (runs := store.runs()) and runs[0]["t_ready"] and runs[0], what="ready")
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        held.set()
        wait_for(lambda: gone(run["worker_pid"]), timeout=20, what="the worker's end")
        time.sleep(0.5)  # the run's end waits for the lock meanwhile
        holder.execute("COMMIT")
        holder.close()

    locker = threading.Thread(target=hold_the_lock, daemon=True)
    locker.start()
    started = time.monotonic()
    run_id = run_trial(config.replace(timeout_seconds=1.5), store)
    elapsed = time.monotonic() - started
    locker.join(timeout=5)
    run = store.get_run(run_id)
    assert held.is_set() and run["status"] == "timed_out", run["error"]
    assert elapsed < 1.5 + 0.5 + 1.0  # the timeout, the lock's last half second, a margin
    assert store.samples(run_id)["t"].diff().max() < 0.5  # sampling went on under the lock


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("crash", "RuntimeError: scripted crash in epoch 0 (file: circles/bad.png)"),
        ("exit", "worker exited with code 7"),
        ("segfault", "worker killed by signal SIGSEGV"),
        ("silent_exit", "worker exited without reporting done"),
    ],
)
def test_crash_fails_with_the_error_or_the_last_stderr_lines(store, config, monkeypatch, mode, expected):
    monkeypatch.setenv("FAKE_MODE", mode)
    run_id = run_trial(config, store)
    run = store.get_run(run_id)
    assert run["status"] == "failed"
    assert expected in run["error"]
    if mode == "crash":
        # The worker reported its error itself: its message, no stderr dump (that is in the logs).
        assert "last stderr lines:" not in run["error"]
        assert any("scripted crash" in line for line in store.logs(run_id)["line"])
    else:
        assert "last stderr lines:" in run["error"] and "scripted warning" in run["error"]
    assert run["summary"]["peak_rss_bytes"] > 0
    assert store.counts(run_id)["samples"] > 0


def test_cancel_a_running_trial(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "hang")
    run_id = start_trial_in_background(config, store)
    wait_for(lambda: store.get_run(run_id)["t_ready"] is not None, what="ready")
    store.request_cancel(run_id)
    assert join_background(run_id, timeout=10)
    run = store.get_run(run_id)
    assert run["status"] == "cancelled"
    assert gone(run["worker_pid"])


def test_a_stop_signal_leaves_run_trial_as_trial_cancelled_once_the_run_is_stored(
    store, config, monkeypatch, tmp_path
):
    # The handler raises Stopped, a KeyboardInterrupt: no `except Exception` on its way (store
    # retries, reader threads) swallows it. The runner stores the run, then raises TrialCancelled.
    assert issubclass(signals.Stopped, KeyboardInterrupt) and not issubclass(signals.Stopped, Exception)
    pid_file = tmp_path / "worker.pid"
    monkeypatch.setenv("FAKE_MODE", "hang")
    monkeypatch.setenv("FAKE_PID_FILE", str(pid_file))

    def send_sigterm() -> None:
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 30, "the worker to start")
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGTERM)

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    sender = threading.Thread(target=send_sigterm, daemon=True)
    try:
        signals.install_stop_signals()
        sender.start()
        with pytest.raises(TrialCancelled) as raised:
            run_trial(config, store)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    sender.join(timeout=5)
    cancel = raised.value
    assert cancel.how == "SIGTERM" and cancel.status == "cancelled"
    run = store.get_run(cancel.run_id)
    assert run["status"] == "cancelled" and run["error"] == "cancelled (SIGTERM)"
    wait_for(lambda: gone(run["worker_pid"]), timeout=5, what="the worker to be killed")


def test_queue_runs_one_at_a_time_and_a_queued_run_can_be_cancelled(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "hang")
    first = start_trial_in_background(config, store)  # hangs until cancelled
    wait_for(lambda: store.get_run(first)["status"] == "running", what="first running")
    second = start_trial_in_background(config, store)
    third = start_trial_in_background(config.replace(timeout_seconds=1), store)
    time.sleep(0.3)
    assert [store.get_run(r)["status"] for r in (first, second, third)] == ["running", "queued", "queued"]
    assert store.queue_position(second) == 1 and store.queue_position(third) == 2
    store.request_cancel(second)
    assert join_background(second, timeout=5)
    assert store.get_run(second)["status"] == "cancelled"
    assert store.get_run(second)["worker_pid"] is None  # never spawned
    assert store.get_run(third)["status"] == "queued"  # still waiting for the first
    store.request_cancel(first)
    assert join_background(first, timeout=10) and join_background(third, timeout=20)
    assert store.get_run(first)["status"] == "cancelled"
    assert store.get_run(third)["status"] == "timed_out"
    a, b = store.samples(first)["t"], store.samples(third)["t"]
    assert a.max() < b.min()


def test_two_runner_processes_never_overlap(diag_home, sample_data_dir, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.5")
    cmd = [sys.executable, "-m", "diagnostics", "run", str(sample_data_dir), "--epochs", "2"]
    procs = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    store = Store(diag_home)
    runs = store.list_runs()
    assert sorted(runs["status"]) == ["completed", "completed"]
    windows = sorted((store.samples(r)["t"].min(), store.samples(r)["t"].max()) for r in runs["id"])
    assert windows[0][1] < windows[1][0], windows


def test_sigkill_of_the_runner_leaves_no_worker_and_a_sound_store(
    diag_home, sample_data_dir, tmp_path, monkeypatch
):
    pid_file = tmp_path / "worker.pid"
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_MODE", "hang")
    monkeypatch.setenv("FAKE_PID_FILE", str(pid_file))
    runner = subprocess.Popen(
        [sys.executable, "-m", "diagnostics", "run", str(sample_data_dir)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=30, what="worker pid")
    worker_pid = int(pid_file.read_text())
    time.sleep(0.5)  # let samples flow into the store
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    wait_for(lambda: gone(worker_pid), timeout=5, what="worker to die with its runner")
    store = Store(diag_home)
    assert store.integrity_check() == "ok"
    (run,) = store.runs()
    assert run["status"] == "running"
    assert store.counts(run["id"])["samples"] > 0
    assert recover_interrupted(store) == [run["id"]]
    assert store.get_run(run["id"])["status"] == "interrupted"
    assert recover_interrupted(store) == []


def test_recover_interrupted_spares_live_runners(store, config):
    live = store.create_run(config)  # created by this (live) process
    dead = store.create_run(config)
    store.update_run(dead, status="running", runner_pid=os.getpid(), runner_create_time=1.0)  # pid reused
    assert recover_interrupted(store) == [dead]
    assert store.get_run(live)["status"] == "queued"
    assert "ended before the trial did" in store.get_run(dead)["error"]


def test_process_tree_is_sampled(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "children")
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.6")
    run_id = run_trial(config, store)
    samples = store.samples(run_id)
    assert samples["processes"].map(len).max() == 3
    widest = samples.loc[samples["processes"].map(len).idxmax()]
    assert widest["rss_bytes"] - widest["main_rss_bytes"] >= 50 * MIB  # two children of 30 MiB
    assert store.get_run(run_id)["summary"]["peak_tree_rss_bytes"] >= samples["rss_bytes"].max()


def test_bad_input_is_refused_before_anything_is_stored(store, config, tmp_path):
    with pytest.raises(ConfigError, match="--keep-decoded does not apply to loader keras_directory"):
        run_trial(config.replace(keep_decoded=True), store)
    with pytest.raises(DatasetError, match="nowhere"):
        run_trial(config.replace(dataset=str(tmp_path / "nowhere")), store, allowed_roots=[tmp_path])
    assert store.list_runs().empty


# -- the worker spawned at Run: its import overlaps the preparation ---------------------------------


def test_background_run_spawns_the_worker_before_preparing(store, config, monkeypatch):
    from diagnostics import dataset

    real = dataset.start_verification

    def slow_listing(*args, **kwargs):  # a big folder's listing, at press
        time.sleep(0.6)
        return real(*args, **kwargs)

    monkeypatch.setattr(dataset, "start_verification", slow_listing)
    pressed = time.monotonic()
    run_id = start_trial_in_background(config, store)
    returned = time.monotonic()
    assert join_background(run_id, timeout=20)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    # Spawned while the folder was being listed, not after: the import no longer waits for it.
    assert pressed <= run["t_started"] < returned - 0.4
    assert run["t_started"] < run["t_ready"]
    assert run["config"]["dataset"] == str(Path(config.dataset).resolve())
    assert [e["images"] for e in run["summary"]["epochs"]] == [550, 550]


def test_bad_input_after_the_early_spawn_leaves_no_worker_lock_or_folder(
    store, config, monkeypatch, tmp_path
):
    import tempfile

    from diagnostics import dataset

    pid_file = tmp_path / "pid"
    monkeypatch.setenv("FAKE_PID_FILE", str(pid_file))
    monkeypatch.setenv("FAKE_MODE", "hang")
    real = dataset.start_verification
    before = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(f"diag-trial-{os.getpid()}-")}

    def refused(*args, **kwargs):
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), what="the early worker")  # it started
        raise DatasetError("scripted: folder refused")

    monkeypatch.setattr(dataset, "start_verification", refused)
    with pytest.raises(DatasetError, match="scripted"):
        start_trial_in_background(config, store)
    assert store.runs() == []
    # Its config never came: the waiting worker was ended (it exits on EOF or the kill).
    wait_for(lambda: gone(int(pid_file.read_text())), what="the early worker gone")
    wait_for(
        lambda: (
            {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(f"diag-trial-{os.getpid()}-")}
            <= before
        ),
        what="the trial folder removed",
    )
    # And the queue is free: the next run completes.
    monkeypatch.setattr(dataset, "start_verification", real)
    monkeypatch.setenv("FAKE_MODE", "normal")
    pid_file.unlink()
    run_id = start_trial_in_background(config, store)
    assert join_background(run_id, timeout=20)
    assert store.get_run(run_id)["status"] == "completed"


def test_a_busy_queue_spawns_nothing_early(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "hang")
    first = start_trial_in_background(config, store)
    wait_for(lambda: store.get_run(first)["t_ready"] is not None, what="first ready")
    second = start_trial_in_background(config, store)
    time.sleep(0.5)
    assert store.get_run(second)["worker_pid"] is None  # waits for its turn, no idle import
    kids = [p for p in psutil.Process().children(recursive=True) if "fake_worker" in " ".join(p.cmdline())]
    assert len(kids) == 1
    store.request_cancel(second)
    store.request_cancel(first)
    assert join_background(first, timeout=10) and join_background(second, timeout=10)


def test_worker_payload_has_no_file_list(store, config, monkeypatch, tmp_path):
    import json as json_lib

    from diagnostics import runner

    seen = {}
    real_go = runner._Trial._go

    def spy(self):
        seen.update(json_lib.loads((Path(self.proc.args[self.proc.args.index("--config") + 1])).read_text()))
        real_go(self)

    monkeypatch.setattr(runner._Trial, "_go", spy)
    run_id = start_trial_in_background(config, store)
    assert join_background(run_id, timeout=20)
    assert store.get_run(run_id)["status"] == "completed"
    assert seen["scan"]["num_images"] == 550 and "files" not in seen["scan"] and "sizes" not in seen["scan"]
