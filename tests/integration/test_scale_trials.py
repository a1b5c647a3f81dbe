"""Issue 12 with a real worker: a loader that delivers fewer images than the scan found names the
files and why, and a run's trial folder is gone when it ends."""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from diagnostics.config import TrialConfig
from diagnostics.process import TRIAL_FOLDER_PREFIX
from diagnostics.runner import run_trial
from diagnostics.store import Store

pytestmark = pytest.mark.tf


def _folder_with_a_gif(root: Path) -> Path:
    for c, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (24, 20), (40 * i, 90 * c, 60)).save(root / name / f"{i}.png")
    Image.new("RGB", (24, 20), "blue").save(root / "cats" / "still.gif")
    return root


def test_image_data_generator_skips_the_gif_and_the_run_says_so(tmp_path: Path, diag_home: Path) -> None:
    root = _folder_with_a_gif(tmp_path / "ds")
    store = Store()
    config = TrialConfig(dataset=str(root), loader="image_data_generator", epochs=2, image_size=(16, 16))
    run_id = run_trial(config, store, allowed_roots=[tmp_path])
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    assert run["scan"]["num_images"] == 7
    epochs = run["summary"]["epochs"]
    assert [e["images"] for e in epochs] == [6, 6]  # flow_from_directory never reads the .gif
    finding = {f["id"]: f for f in run["findings"]}["delivered_fewer"]
    assert "cats/still.gif" in finding["detail"] and "6 of the 7" in finding["detail"]
    assert "does not read .gif" in finding["detail"]
    # The worker's input folder went with the run.
    mine = glob.glob(os.path.join(tempfile.gettempdir(), f"{TRIAL_FOLDER_PREFIX}{os.getpid()}-*"))
    assert mine == []


def test_keras_directory_reads_the_gif(tmp_path: Path, diag_home: Path) -> None:
    root = _folder_with_a_gif(tmp_path / "ds")
    store = Store()
    config = TrialConfig(dataset=str(root), epochs=1, image_size=(16, 16))
    run = store.get_run(run_trial(config, store, allowed_roots=[tmp_path]))
    assert run["status"] == "completed", run["error"]
    assert [e["images"] for e in run["summary"]["epochs"]] == [7]
    assert "delivered_fewer" not in {f["id"] for f in run["findings"]}


def test_run_pressed_spawns_the_real_worker_first_and_it_waits_for_its_config(
    tmp_path: Path, diag_home: Path
) -> None:
    from diagnostics import runner

    root = _folder_with_a_gif(tmp_path / "ds")
    store = Store()
    config = TrialConfig(dataset=str(root), loader="tfdata_map_batch", epochs=1, image_size=(16, 16))
    run_id = runner.start_trial_in_background(config, store, allowed_roots=[tmp_path])
    assert runner.join_background(run_id, timeout=120)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    assert [e["images"] for e in run["summary"]["epochs"]] == [7]
    events = store.events(run_id)
    ready = events[events["kind"] == "ready"].iloc[0]
    # TensorFlow was imported before the config arrived; the baseline is still taken after it.
    assert run["t_started"] < ready["data"]["imported_t"] <= ready["t"] == run["t_ready"]
    mine = glob.glob(os.path.join(tempfile.gettempdir(), f"{TRIAL_FOLDER_PREFIX}{os.getpid()}-*"))
    assert mine == []
