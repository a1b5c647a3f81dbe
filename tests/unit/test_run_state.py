"""Issue 13, items 1-2: a run never ends "completed" after losing data, and never stays "running".

Real processes throughout: the CLI runner is a subprocess, the SQLite file is real, the worker is
the FakeWorker (no TensorFlow needed for what is tested here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diagnostics.recover import recover_interrupted
from diagnostics.store import Store
from tests.processes import wait_for
from tests.store_damage import corrupt_table_root

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "fakes" / "fake_worker.py"


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DIAG_HOME": str(home), "DIAG_TEST_WORKER": str(FAKE), **extra}


def _run_cli(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diagnostics", "run", str(REPO / "sample_data"), *args],
        cwd=REPO,
        env=_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_store_that_cannot_save_samples_fails_the_run_loudly(tmp_path):
    home = tmp_path / "home"
    Store(home).close()
    corrupt_table_root(home / "runs.sqlite", "samples")
    result = _run_cli(home, "--epochs", "2", FAKE_EPOCH_SECONDS="0.3")
    assert result.returncode in (2, 3), result.stdout + result.stderr
    printed = result.stdout + result.stderr
    store_file = str((home / "runs.sqlite").resolve())
    assert store_file in printed and "integrity" in printed, printed
    (run,) = Store(home).runs()
    assert run["status"] == "failed", run
    assert store_file in run["error"] and "samples" in run["error"], run["error"]
    # What could be kept was kept: the events and log lines live in other, sound tables.
    counts = Store(home).counts(run["id"])
    assert counts["events"] > 0 and counts["logs"] > 0, counts


def _start_hanging_cli(home: Path, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    pid_file = tmp_path / "worker.pid"
    proc = subprocess.Popen(
        [sys.executable, "-m", "diagnostics", "run", str(REPO / "sample_data")],
        cwd=REPO,
        env=_env(home, FAKE_MODE="hang", FAKE_PID_FILE=str(pid_file)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 30, "the worker to start")
    return proc, pid_file


def test_sigterm_of_the_cli_runner_cancels_the_run_like_ctrl_c(tmp_path):
    home = tmp_path / "home"
    proc, _ = _start_hanging_cli(home, tmp_path)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode not in (0, -signal.SIGTERM, 128 + signal.SIGTERM), (proc.returncode, err)
    assert "cancelled" in out and "SIGTERM" in out, out + err
    (run,) = Store(home).runs()
    assert run["status"] == "cancelled" and "SIGTERM" in run["error"]


@pytest.mark.parametrize(
    ("signals", "gap"),
    [
        ([signal.SIGINT] * 12, 0.0),
        ([signal.SIGINT] * 12, 0.05),
        ([signal.SIGINT, signal.SIGTERM, signal.SIGINT] * 4, 0.0),
        ([signal.SIGINT, signal.SIGTERM, signal.SIGINT] * 4, 0.02),
        ([signal.SIGTERM] * 12, 0.1),
    ],
)
def test_repeated_signals_never_leave_a_run_running(tmp_path, signals, gap):
    home = tmp_path / "home"
    proc, _ = _start_hanging_cli(home, tmp_path)
    time.sleep(0.3)
    for sig in signals:
        if proc.poll() is not None:
            break
        proc.send_signal(sig)
        time.sleep(gap)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "Traceback" not in err, err
    (run,) = Store(home).runs()
    assert run["status"] == "cancelled", (run["status"], out, err)


# Runs the CLI with every store connection capped at its size once samples start to flow: SQLite
# then answers SQLITE_FULL ("database or disk is full"), as on a full disk.
_FULL_DISK_DRIVER = """
import sys
from diagnostics import cli, store

original = store.Store.add_samples

def add_samples(self, run_id, rows):
    conn = self._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    return original(self, run_id, rows)

store.Store.add_samples = add_samples
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_full_store_fails_the_run_and_the_cause_survives_recovery(tmp_path):
    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_DRIVER, "run", str(REPO / "sample_data"), "--epochs", "3"],
        cwd=REPO,
        env=_env(home, FAKE_EPOCH_SECONDS="1.0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    printed = result.stdout + result.stderr
    assert result.returncode in (2, 3), printed
    assert "full" in printed and str((home / "runs.sqlite").resolve()) in printed, printed
    store = Store(home)
    recover_interrupted(store)  # what the next CLI run or the dashboard does first
    (run,) = store.runs()
    assert run["status"] == "failed", run
    assert "full" in run["error"] and "process running this trial ended" not in run["error"], run["error"]


def test_sigterm_stops_a_cli_sweep_after_storing_the_cancelled_trial(tmp_path):
    home = tmp_path / "home"
    pid_file = tmp_path / "worker.pid"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "diagnostics", "sweep", str(REPO / "sample_data"),
            "--loader", "tfdata_map_batch", "--grid", "batch_size=16,32,64",
        ],
        cwd=REPO,
        env=_env(home, FAKE_MODE="hang", FAKE_PID_FILE=str(pid_file)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 30, "the first trial")
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "interrupted" in err, (proc.returncode, out, err)
    store = Store(home)
    assert [r["status"] for r in store.runs()] == ["cancelled"], "no further trial was started"
    (sweep_id,) = store.list_sweeps()["id"]
    sweep = store.get_sweep(int(sweep_id))
    assert sweep["status"] == "interrupted" and "(SIGTERM)" in sweep["error"], sweep["error"]


def test_an_ending_left_by_an_earlier_store_does_not_close_a_new_run(tmp_path):
    home = tmp_path / "home"
    store = Store(home)
    run_id = store.create_run({"dataset": "x", "loader": "eager_loop"})
    store.update_run(run_id, status="running")
    stale = {"status": "failed", "error": "disk full", "runner_pid": 1, "runner_create_time": 0.0}
    (home / f"run-{run_id}.ending.json").write_text(json.dumps(stale))
    assert recover_interrupted(store) == []
    assert store.get_run(run_id)["status"] == "running"
    assert not (home / f"run-{run_id}.ending.json").exists()
