"""A loader that delivers fewer images than the scan found (``dataset.loader_skips``): the run
stores which files and why, and the finding names them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PIL import Image

from diagnostics import analysis, prepare
from diagnostics.config import TrialConfig
from diagnostics.store import Store


def _gif_folder(root: Path) -> Path:
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
    Image.new("RGB", (20, 20), "red").save(root / "cats" / "a.png")
    Image.new("RGB", (20, 20), "blue").save(root / "cats" / "b.gif")
    Image.new("RGB", (20, 20), "green").save(root / "dogs" / "c.jpg")
    return root


def test_image_data_generator_gif_is_named_with_the_reason(tmp_path: Path, diag_home: Path) -> None:
    root = _gif_folder(tmp_path / "ds")
    store = Store()
    config = TrialConfig(dataset=str(root), loader="image_data_generator", epochs=2)
    run_id, _, _ = prepare.prepare_trial(config, store, allowed_roots=[tmp_path])
    run = store.get_run(run_id)
    assert run["scan"]["num_images"] == 3
    skipped = run["scan"]["loader_skipped"]
    assert [s["path"] for s in skipped] == ["cats/b.gif"]
    assert ".gif" in skipped[0]["reason"] and "flow_from_directory" in skipped[0]["reason"]
    assert run["scan"]["loader_images"] == 2

    # Each epoch then delivers 2, not 3: the finding names the file and why.
    events = []
    for epoch in range(2):
        events.append({"t": 10.0 + epoch, "kind": "epoch_start", "data": {"epoch": epoch}})
        events.append(
            {"t": 10.5 + epoch, "kind": "epoch_end", "data": {"epoch": epoch, "images": 2, "seconds": 0.5}}
        )
    result = analysis.analyze(
        {**run, "status": "completed"}, pd.DataFrame(), pd.DataFrame(events), pd.DataFrame(), None
    )
    found = {f["id"]: f for f in result["findings"]}
    assert "delivered_fewer" in found
    text = found["delivered_fewer"]["detail"]
    assert "cats/b.gif" in text and "2 of the 3" in text and ".gif" in text
    assert result["summary"]["delivered_fewer"]["files"][0]["path"] == "cats/b.gif"


def test_other_loaders_read_the_gif(tmp_path: Path, diag_home: Path) -> None:
    root = _gif_folder(tmp_path / "ds")
    store = Store()
    run_id, _, _ = prepare.prepare_trial(TrialConfig(dataset=str(root)), store, allowed_roots=[tmp_path])
    scan = store.get_run(run_id)["scan"]
    assert scan.get("loader_skipped") in (None, []) and scan["loader_images"] == 3


def test_fewer_without_a_known_reason_still_says_so(tmp_path: Path) -> None:
    run = {
        "id": 1,
        "status": "completed",
        "config": {"dataset": "d", "loader": "keras_directory", "epochs": 1},
        "scan": {"num_images": 10, "loader_images": 10, "bad_files_total": 0},
    }
    events = [
        {"t": 1.0, "kind": "epoch_start", "data": {"epoch": 0}},
        {"t": 2.0, "kind": "epoch_end", "data": {"epoch": 0, "images": 9, "seconds": 1.0}},
    ]
    result = analysis.analyze(run, pd.DataFrame(), pd.DataFrame(events), pd.DataFrame(), None)
    found = {f["id"]: f for f in result["findings"]}
    assert "9 of the 10" in found["delivered_fewer"]["detail"]
