"""Reliability with a real TensorFlow worker (issue 6): budget kill, timeout, crash, runner SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diagnostics.recover import recover_interrupted
from diagnostics.store import Store
from tests.processes import gone

pytestmark = pytest.mark.tf

REPO = Path(__file__).resolve().parents[2]
MIB = 1024**2


def _env(home: Path, **extra) -> dict:
    env = {**os.environ, "DIAG_HOME": str(home), **extra}
    env.pop("DIAG_TEST_WORKER", None)
    return env


def _cli(args, home: Path, timeout: float = 240, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diagnostics", *args],
        cwd=REPO,
        env=_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_budget_kill_of_a_memory_cache_keeps_samples(tmp_path):
    result = _cli(
        [
            "run",
            "sample_data",
            "--loader",
            "keras_directory",
            "--cache",
            "memory",
            "--image-size",
            "224",
            "224",
            "--memory-budget",
            "700MiB",
        ],
        tmp_path,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "killed_budget" in result.stdout and "Traceback" not in result.stderr
    store = Store(tmp_path)
    (run,) = store.runs()
    assert run["status"] == "killed_budget"
    assert "budget 700.0 MiB" in run["error"] and "s after start" in run["error"]
    # TensorFlow's import alone may cross 700 MiB: the message says so exactly when no ready came.
    crossed_before_ready = "ready" not in set(store.events(run["id"])["kind"])
    assert ("importing TensorFlow" in run["error"]) == crossed_before_ready, run["error"]
    samples = store.samples(run["id"])
    assert len(samples) > 20
    assert samples["rss_bytes"].iloc[-1] > 700 * MIB
    assert gone(run["worker_pid"])


def test_timeout_on_a_long_run(tmp_path):
    started = time.monotonic()
    result = _cli(
        # fit: about a second per epoch here (iterate does 550 images in 0.1 s), and 50 epochs at most
        ["run", "sample_data", "--loader", "keras_directory", "--mode", "fit", "--epochs", "50"]
        + ["--timeout", "12"],
        tmp_path,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 3, result.stdout + result.stderr
    assert "timed_out" in result.stdout
    assert elapsed < 12 + 30  # killed at the timeout, not at the end of 50 fit epochs
    (run,) = Store(tmp_path).runs()
    assert run["status"] == "timed_out" and gone(run["worker_pid"])


def test_worker_that_dies_silently_fails_with_stderr_tail(tmp_path):
    result = _cli(
        ["run", "sample_data", "--loader", "keras_directory", "--epochs", "1"],
        tmp_path,
        DIAG_TEST_FAULT="exit",
    )
    assert result.returncode == 3, result.stdout + result.stderr
    (run,) = Store(tmp_path).runs()
    assert run["status"] == "failed"
    assert "worker exited with code 7" in run["error"] and "last stderr lines:" in run["error"]


def test_sigkill_of_the_cli_leaves_no_worker_and_a_sound_store(tmp_path):
    runner = subprocess.Popen(
        [sys.executable, "-m", "diagnostics", "run", "sample_data", "--loader", "keras_directory"],
        cwd=REPO,
        env=_env(tmp_path, DIAG_TEST_FAULT="hang"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    run = None
    while time.monotonic() < deadline:
        if (tmp_path / "runs.sqlite").exists():
            runs = Store(tmp_path).runs()
            if runs and runs[0]["t_ready"] is not None:
                run = runs[0]
                break
        time.sleep(0.2)
    assert run is not None, "the worker never became ready"
    worker = run["worker_pid"]
    assert not gone(worker)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 5
    while not gone(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(worker), "worker outlived its runner by 5 s"
    store = Store(tmp_path)
    assert store.integrity_check() == "ok"
    assert store.counts(run["id"])["samples"] > 0
    assert recover_interrupted(store) == [run["id"]]
