"""The runner around a scan: trial folders named by their runner, default steps sized for a
minute, and a run started before verification ends waiting with its progress on the run."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from diagnostics import prepare, process, recover, runner
from diagnostics.config import TrialConfig
from diagnostics.dataset import verification
from diagnostics.store import Store
from tests.image_folders import make_folder


def test_trial_folder_names_carry_the_runner_and_stale_ones_go(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(process.tempfile, "gettempdir", lambda: str(tmp_path))
    live = process.make_trial_folder()
    assert f"-{os.getpid()}-" in os.path.basename(live)
    dead = tmp_path / "diag-trial-999999999-1-abc"
    dead.mkdir()
    (dead / "trial.json").write_text("{}")
    reused = tmp_path / f"diag-trial-{os.getpid()}-1-xyz"  # our pid, another start time: a dead runner
    reused.mkdir()
    removed = recover.clean_stale_trial_folders()
    assert sorted(removed) == sorted([str(dead), str(reused)])
    assert os.path.isdir(live)


def test_default_steps_whole_epochs_for_sample_data(sample_data_dir: Path, diag_home: Path) -> None:
    store = Store()
    run_id, config, _ = prepare.prepare_trial(TrialConfig(dataset=str(sample_data_dir)), store)
    assert config.steps is None
    reason = store.get_run(run_id)["config"]["extra"]["steps_default"]
    assert reason["steps"] is None and reason["text"].startswith("whole epochs")


def test_default_steps_for_a_big_folder_and_from_past_runs(tmp_path: Path, diag_home: Path) -> None:
    root = make_folder(tmp_path / "big", 5000)
    store = Store()
    config = TrialConfig(dataset=str(root))
    run_id, picked, _ = prepare.prepare_trial(config, store, allowed_roots=[tmp_path])
    rate = prepare.CONSERVATIVE_RATE["iterate"]
    assert picked.steps == int(rate * prepare.TRIAL_EPOCH_SECONDS // 32)
    reason = store.get_run(run_id)["config"]["extra"]["steps_default"]
    assert reason["rate_source"] == "conservative default" and f"--steps {picked.steps}" in reason["text"]
    assert "5,000 images" in reason["text"]
    # A completed run at 1,000 images/s on this folder: 20 s then hold 20,000 images, so whole epochs.
    store.update_run(run_id, status="completed", summary={"images_per_second": 1000.0})
    _, again, _ = prepare.prepare_trial(config, store, allowed_roots=[tmp_path])
    assert again.steps is None
    # The user's own --steps is kept and no default is recorded.
    _, own, _ = prepare.prepare_trial(config.replace(steps=3), store, allowed_roots=[tmp_path])
    assert own.steps == 3 and "steps_default" not in own.extra


def test_background_run_waits_for_verification_with_progress(
    tmp_path: Path, diag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "DIAG_TEST_WORKER", str(Path(__file__).resolve().parents[1] / "fakes" / "fake_worker.py")
    )
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.1")
    root = make_folder(tmp_path / "ds", 40)
    (root / "c1" / "broken.png").write_bytes(b"not a png at all")
    gate = threading.Event()
    real = verification._verify_chunk

    def slow_chunk(folder, rels):  # verification held back until the run is seen waiting
        gate.wait(10)
        return real(folder, rels)

    monkeypatch.setattr(verification, "_verify_chunk", slow_chunk)
    store = Store()
    run_id = runner.start_trial_in_background(
        TrialConfig(dataset=str(root), loader="tfdata_map_batch", epochs=1),
        store,
        allowed_roots=[tmp_path],
    )
    waiting = store.get_run(run_id)
    assert waiting["status"] == "queued"
    assert waiting["scan_progress"]["total"] == 41 and not waiting["scan_progress"]["finished"]
    assert waiting["scan"]["num_files"] == 41 and "files" not in waiting["scan"]
    gate.set()
    assert runner.join_background(run_id, timeout=30)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    assert run["scan_progress"]["finished"] and run["scan_progress"]["done"] == 41
    assert run["scan"]["num_images"] == 40 and [b["path"] for b in run["scan"]["bad_files"]] == [
        "c1/broken.png"
    ]
    assert "SKIP" in run["snippet"]


def test_background_run_on_a_folder_its_loader_cannot_read_fails_with_the_reason(
    tmp_path: Path, diag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "ds", 10)
    (root / "c1" / "broken.png").write_bytes(b"not a png at all")
    gate = threading.Event()
    real = verification._verify_chunk
    monkeypatch.setattr(
        verification, "_verify_chunk", lambda folder, rels: gate.wait(10) and real(folder, rels)
    )
    store = Store()
    config = TrialConfig(dataset=str(root), loader="keras_directory", epochs=1)
    run_id = runner.start_trial_in_background(config, store, allowed_roots=[tmp_path])
    gate.set()
    assert runner.join_background(run_id, timeout=30)
    run = store.get_run(run_id)
    assert run["status"] == "failed" and "cannot skip the unreadable ones: c1/broken.png" in run["error"]
