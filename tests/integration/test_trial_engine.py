"""The trial engine end to end: the real CLI, a real TensorFlow worker, sample_data (issue 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diagnostics.store import Store

pytestmark = pytest.mark.tf

REPO = Path(__file__).resolve().parents[2]


def _cli(args, home: Path, timeout: float = 240, **env_extra) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIAG_HOME": str(home), **env_extra}
    env.pop("DIAG_TEST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "diagnostics", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def three_epochs(tmp_path_factory):
    home = tmp_path_factory.mktemp("engine")
    out = home / "out.json"
    result = _cli(
        ["run", "sample_data", "--loader", "keras_directory", "--epochs", "3", "--json", str(out)], home
    )
    return home, out, result


def test_run_completes_and_prints_a_summary(three_epochs):
    _, out, result = three_epochs
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed" in result.stdout and "peak" in result.stdout and "stored in" in result.stdout
    assert "Traceback" not in result.stderr


def test_every_epoch_delivers_every_image(three_epochs):
    _, out, _ = three_epochs
    doc = json.loads(out.read_text())
    assert {"run_id", "status", "config", "summary", "findings", "logs", "snippet"} <= set(doc)
    epochs = doc["summary"]["epochs"]
    assert [e["images"] for e in epochs] == [550, 550, 550]
    assert all(e["seconds"] > 0 and e["images_per_second"] > 0 for e in epochs)
    assert doc["snippet"].strip()


def test_peak_is_the_workers_vmhwm_and_baseline_is_below_it(three_epochs):
    home, out, _ = three_epochs
    doc = json.loads(out.read_text())
    store = Store(home)
    events = store.events(doc["run_id"])
    done = events[events["kind"] == "done"]["data"].iloc[0]
    ready = events[events["kind"] == "ready"]["data"].iloc[0]
    summary = doc["summary"]
    assert summary["peak_rss_bytes"] == done["vmhwm_bytes"]
    assert summary["baseline_rss_bytes"] == ready["rss_bytes"]
    assert 0 < summary["baseline_rss_bytes"] <= summary["peak_rss_bytes"]
    # VmHWM is the kernel's high-water mark of the worker's RSS. The kernel updates it lazily
    # (per-thread RSS counters are folded in late, and some unmapping paths skip the update), so a
    # sample can read a few hundred KiB above it: measured 0.07% above on this box. Allow 1%.
    sampled_max = store.samples(doc["run_id"])["main_rss_bytes"].max()
    assert sampled_max <= summary["peak_rss_bytes"] * 1.01


def test_sampling_keeps_20_per_second_and_the_store_has_everything(three_epochs):
    home, out, _ = three_epochs
    run_id = json.loads(out.read_text())["run_id"]
    store = Store(home)
    samples = store.samples(run_id)
    span_seconds = samples["t"].iloc[-1] - samples["t"].iloc[0]
    assert len(samples) / span_seconds >= 20, f"{len(samples)} samples in {span_seconds:.1f} s"
    counts = store.counts(run_id)
    assert counts["events"] >= 3 * 3 + 2 and counts["logs"] > 0
    kinds = set(store.events(run_id)["kind"])
    assert {"ready", "epoch_start", "step", "epoch_end", "gc", "done"} <= kinds
    run = store.get_run(run_id)
    assert run["status"] == "completed" and run["versions"].get("tensorflow")
    assert store.integrity_check() == "ok"


def test_fit_mode_reports_loss_per_epoch(tmp_path):
    # Issue 3: `run sample_data --loader keras_directory --mode fit --epochs 2 --steps 10`.
    out = tmp_path / "fit.json"
    result = _cli(
        [
            "run",
            "sample_data",
            "--loader",
            "keras_directory",
            "--mode",
            "fit",
            "--epochs",
            "2",
            "--steps",
            "10",
            "--image-size",
            "64",
            "64",
            "--json",
            str(out),
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    epochs = json.loads(out.read_text())["summary"]["epochs"]
    assert len(epochs) == 2
    assert all(e["loss"] > 0 and 0 <= e["accuracy"] <= 1 for e in epochs)
    assert all(e["images"] == 10 * 32 for e in epochs)
    printed = [line for line in result.stdout.splitlines() if line.strip().startswith("epoch")]
    assert len(printed) == 2 and all(", loss " in line for line in printed), result.stdout
