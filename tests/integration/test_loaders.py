"""Every loader on sample_data in a real worker process with TensorFlow (issue 3), plus the worker's
own process behaviour: fault injection, error events naming the file, dying with its parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diagnostics.config import TrialConfig
from diagnostics.dataset import scan as scan_folder
from diagnostics.loaders import LOADER_NAMES, validate
from diagnostics.protocol import EVENT_FD_ENV, parse_event

pytestmark = pytest.mark.tf

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "sample_data"


def spawn_worker(config: TrialConfig, scan: dict, tmp_path: Path, **env_extra: str) -> subprocess.Popen:
    """Start ``python -m diagnostics.worker`` the way the runner does: events on a passed pipe."""
    config_file = tmp_path / "trial.json"
    config_file.write_text(json.dumps({"config": config.to_dict(), "scan": scan}))
    read_fd, write_fd = os.pipe()
    env = {**os.environ, EVENT_FD_ENV: str(write_fd), **env_extra}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "diagnostics.worker", "--config", str(config_file)],
            cwd=REPO,
            env=env,
            pass_fds=(write_fd,),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(write_fd)
    proc.events_file = os.fdopen(read_fd, encoding="utf-8")  # type: ignore[attr-defined]
    return proc


def run_worker(config: TrialConfig, scan: dict, tmp_path: Path, timeout: float = 180, **env_extra: str):
    """Run to the end; returns (events, returncode, stderr)."""
    proc = spawn_worker(config, scan, tmp_path, **env_extra)
    try:
        _stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    with proc.events_file:
        events = [parse_event(line) for line in proc.events_file]
    return [e for e in events if e], proc.returncode, stderr


def of_kind(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["kind"] == kind]


@pytest.fixture(scope="module")
def sample_scan() -> dict:
    return scan_folder(SAMPLE_DATA, image_size=(96, 96)).to_dict()


@pytest.mark.parametrize("loader", LOADER_NAMES)
def test_each_loader_delivers_every_sample_image(loader, sample_scan, tmp_path):
    config = validate(TrialConfig(dataset=sample_scan["root"], loader=loader, epochs=1, image_size=(96, 96)))
    events, code, stderr = run_worker(config, sample_scan, tmp_path)
    assert code == 0, stderr[-3000:]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "ready" and kinds[-1] == "done"
    assert kinds.index("ready") < kinds.index("epoch_start") < kinds.index("epoch_end")
    (end,) = of_kind(events, "epoch_end")
    assert end["images"] == sample_scan["num_images"] == 550
    assert end["seconds"] > 0 and end["rss_bytes"] > 0
    steps = of_kind(events, "step")
    assert steps and steps[-1]["images"] == 550  # the last step of the epoch is always reported
    assert len(steps) <= 4 * (steps[-1]["t"] - steps[0]["t"]) + 2  # batched, not one per batch
    (gc_event,) = of_kind(events, "gc")
    assert len(gc_event["collections"]) == 3 and gc_event["pause_seconds"] >= 0
    ready, done = events[0], events[-1]
    assert ready["tensorflow"] and ready["keras"] and ready["num_images"] == 550
    assert 0 < ready["rss_bytes"] <= done["vmhwm_bytes"]


def test_fit_reports_loss_and_accuracy_per_epoch(sample_scan, tmp_path):
    config = validate(
        TrialConfig(
            dataset=sample_scan["root"],
            loader="keras_directory",
            mode="fit",
            epochs=2,
            steps=10,
            image_size=(64, 64),
        )
    )
    events, code, stderr = run_worker(config, sample_scan, tmp_path)
    assert code == 0, stderr[-3000:]
    ends = of_kind(events, "epoch_end")
    assert [e["epoch"] for e in ends] == [0, 1]
    for end in ends:
        assert end["images"] == 10 * 32
        assert end["loss"] > 0 and 0 <= end["accuracy"] <= 1
    assert len(of_kind(events, "gc")) == 2


def test_crash_is_an_error_event_and_exit_1(sample_scan, tmp_path):
    config = TrialConfig(dataset=sample_scan["root"], epochs=1)
    events, code, stderr = run_worker(config, sample_scan, tmp_path, DIAG_TEST_FAULT="crash")
    assert code == 1
    assert [e["kind"] for e in events] == ["ready", "error"]
    error = events[-1]
    assert error["type"] == "RuntimeError" and "injected crash" in error["message"]
    assert "Traceback" in error["traceback"] and error["file"] is None
    assert "RuntimeError: injected crash" in stderr


@pytest.mark.parametrize(("fault", "expected_code"), [("exit", 7), ("segfault", -signal.SIGSEGV)])
def test_hard_faults_end_without_done(fault, expected_code, sample_scan, tmp_path):
    config = TrialConfig(dataset=sample_scan["root"], epochs=1)
    events, code, _stderr = run_worker(config, sample_scan, tmp_path, DIAG_TEST_FAULT=fault)
    assert code == expected_code
    assert [e["kind"] for e in events] == ["ready"]


def test_error_names_the_unreadable_file(tmp_path):
    # A hand-made scan that does not know the file is broken, so the loader meets it.
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    broken = root / "b" / "broken image.jpg"
    broken.write_bytes(b"this is not a jpeg")
    from PIL import Image

    Image.new("RGB", (20, 20), "red").save(root / "a" / "ok.png")
    scan = {
        "root": str(root),
        "classes": ["a", "b"],
        "counts": {"a": 1, "b": 1},
        "files": [["a/ok.png", 0], ["b/broken image.jpg", 1]],
        "bad_files": [],
        "num_images": 2,
        "decoded_bytes_per_image": 0,
    }
    config = validate(TrialConfig(dataset=str(root), loader="pil_generator", epochs=1, image_size=(16, 16)))
    events, code, _stderr = run_worker(config, scan, tmp_path)
    assert code == 1
    error = of_kind(events, "error")[0]
    assert error["file"] == str(broken)
    assert error["type"] == "UnidentifiedImageError"


def test_worker_exits_when_its_parent_dies(sample_scan, tmp_path):
    """No PR_SET_PDEATHSIG here: the worker's own parent-pid watch must end it."""
    config_file = tmp_path / "trial.json"
    config = TrialConfig(dataset=sample_scan["root"], epochs=1)
    config_file.write_text(json.dumps({"config": config.to_dict(), "scan": sample_scan}))
    pid_file = tmp_path / "worker.pid"
    parent_code = f"""
import os, subprocess, sys, time
r, w = os.pipe()
env = dict(os.environ, DIAG_EVENT_FD=str(w), DIAG_TEST_FAULT="hang")
proc = subprocess.Popen([sys.executable, "-m", "diagnostics.worker", "--config", {str(config_file)!r}],
                        pass_fds=(w,), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open({str(pid_file)!r}, "w").write(str(proc.pid))
os.close(w)
events = os.fdopen(r)
events.readline()  # ready: TensorFlow is imported, the worker now hangs
print("ready", flush=True)
time.sleep(600)
"""
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout.readline().strip() == "ready"
        worker_pid = int(pid_file.read_text())
        os.kill(worker_pid, 0)  # alive while its parent is
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(worker_pid, 0)
            except ProcessLookupError:
                break
            # Reaped by init once it exits; a zombie still answers kill(0), so look at its state.
            try:
                state = Path(f"/proc/{worker_pid}/stat").read_text().split(") ", 1)[1][0]
            except FileNotFoundError:
                break
            if state == "Z":
                break
            time.sleep(0.1)
        else:
            os.kill(worker_pid, signal.SIGKILL)
            pytest.fail("the worker outlived its parent by 5 s")
    finally:
        if parent.poll() is None:
            parent.kill()
