"""diagnostics.views.run: status line, progress, headline, logs, projection, verification wait and steps caption (from test_ui.py and test_ui_folders.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from diagnostics import views
from diagnostics.config import TrialConfig

MIB = 1024 * 1024


def _events(*rows: tuple[str, dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"t": float(i), "kind": kind, "data": data} for i, (kind, data) in enumerate(rows)],
        columns=["t", "kind", "data"],
    )


def test_status_markdown_and_queue_text():
    run = {"id": 7, "status": "killed_budget", "loader": "tf_data", "dataset_path": "/d"}
    text = views.run.status_markdown(run)
    assert "**Run #7**" in text and "Killed: memory budget crossed" in text and "`/d`" in text
    assert views.run.queue_text(2) == "Waiting in the queue: 2 trial(s) ahead of this one."
    assert views.run.queue_text(0).startswith("Next in line")


def test_memory_figure_marks_fall_back_to_the_ready_event_and_config_while_live():
    events = _events(("ready", {"rss_bytes": 500 * MIB}))
    live = {"t_ready": 3.0, "config": {"memory_budget_bytes": 2048 * MIB}}
    assert views.run.memory_figure_marks(live, events) == {
        "t_ready": 3.0,
        "baseline_bytes": 500 * MIB,
        "budget_bytes": 2048 * MIB,
        "peak_bytes": None,
    }
    done = {"summary": {"baseline_rss_bytes": 510 * MIB, "peak_rss_bytes": 900 * MIB}}
    marks = views.run.memory_figure_marks(done, events)
    assert marks["baseline_bytes"] == 510 * MIB and marks["peak_bytes"] == 900 * MIB
    assert views.run.ready_rss_bytes(_events()) is None


def test_progress_state_before_ready_during_epochs_and_from_the_scan():
    run = {"config": {"epochs": 2, "steps": 10}}
    assert views.run.progress_state(run, _events()) == (0.0, "Starting the worker (importing TensorFlow)…")
    events = _events(
        ("ready", {}),
        ("epoch_start", {"epoch": 0}),
        ("step", {"epoch": 0, "step": 9}),
        ("epoch_start", {"epoch": 1}),
        ("step", {"epoch": 1, "step": 4}),
    )
    fraction, text = views.run.progress_state(run, events)
    assert fraction == pytest.approx(0.75) and text == "Epoch 2/2 · step 5/10"
    # No step limit: 100 images at batch 32 make 4 steps per epoch.
    whole = {"config": {"epochs": 1, "batch_size": 32}, "scan": {"num_images": 100}}
    halfway = _events(("ready", {}), ("epoch_start", {"epoch": 0}), ("step", {"epoch": 0, "step": 1}))
    assert views.run.progress_state(whole, halfway) == (0.5, "Epoch 1/1 · step 2/4")


def test_leak_verdict_text_and_headline_metrics():
    assert views.common.leak_verdict_text({"summary": {}}) == ("n/a", "Needs at least 3 epochs.")
    run = {
        "summary": {
            "peak_rss_bytes": 900 * MIB,
            "baseline_rss_bytes": 600 * MIB,
            "steady_images_per_second": 1234.0,
            "epochs": [
                {"index": 0, "images": 1000, "seconds": 2.0},
                {"index": 1, "images": 2468, "seconds": 2.0},
            ],
            "leak_bytes_per_epoch": 2 * MIB,
            "leak": {"growing": True, "noise_band_bytes_per_epoch": 1 * MIB},
        }
    }
    label, detail = views.common.leak_verdict_text(run)
    assert label == "growing +2.0 MiB/epoch" and "Noise band ±1.0 MiB/epoch." in detail
    metrics = views.run.headline_metrics(run)
    assert [m[0] for m in metrics] == [
        "Peak RSS (VmHWM)",
        "Overhead over baseline",
        "Throughput",
        "Leak verdict",
    ]
    # Overhead is peak minus baseline when the summary has no measured overhead.
    assert metrics[0][1] == "900.0 MiB" and metrics[1][1] == "+300.0 MiB"
    # The leak metric's value is the short verdict; the slope goes under it (issue 13 item 11:
    # "no leak +10.…" was cut off).
    assert metrics[2][1] == "1,234 img/s" and metrics[3][1] == "growing"
    assert "+2.0 MiB/epoch" in metrics[3][2]
    captions = views.run.headline_captions(run)
    assert captions[3] == "+2.0 MiB/epoch" and len(captions) == 4
    assert "baseline 600.0 MiB" in metrics[1][2]


def test_log_groups_caption_and_table_most_frequent_first():
    groups = [
        {"count": 2, "level": "W", "known": False, "template": "odd <n>", "per_epoch": [1, 1]},
        {"count": 5, "level": "I", "known": True, "source": "tf", "template": "ok", "explanation": "why"},
    ]
    assert (
        views.run.log_groups_caption(groups)
        == "Log lines: 7 in 2 groups (1 known, 1 with no verified source)"
    )
    table = views.run.log_groups_table(groups)
    assert list(table["count"]) == [5, 2]
    assert list(table["known"]) == ["known", "unknown"]
    assert table["explanation"].iloc[1] == "no verified source" and table["source"].iloc[1] == "–"
    assert table["per epoch"].iloc[1] == "1, 1"
    assert views.run.epoch_start_times(_events(("ready", {}), ("epoch_start", {}))) == [1.0]


def test_projection_is_a_table_in_mib_without_nulls():
    # issue 13 item 11: "Projection to the full folder" was raw JSON with a red null.
    projection = {
        "full_dataset_images": 5500,
        "trial_images_per_epoch": 550,
        "scaled": True,
        "cache_bytes": None,
        "peak_overhead_bytes": 300 * MIB,
        "note": "the trial read 550 of 5500 images per epoch",
    }
    table = views.run.projection_table(projection)
    assert list(table.columns) == ["", "value"]
    values = dict(zip(table[""], table["value"], strict=True))
    assert values["Images in the folder"] == "5,500"
    assert values["Peak overhead, whole folder"] == "300.0 MiB"
    assert values["In-memory cache, whole folder"] == "– (no in-memory cache)"
    assert "None" not in table.to_string() and "null" not in table.to_string()


def test_verification_wait_only_while_a_queued_run_waits_for_its_folder():
    waiting = {"status": "queued", "scan_progress": {"done": 300, "total": 1200, "bad": 2, "finished": False}}
    fraction, text = views.run.verification_wait(waiting)
    assert fraction == 0.25
    assert text.startswith("Waiting for the folder's verification") and "300 / 1,200" in text
    assert (
        views.run.verification_wait(
            {**waiting, "scan_progress": {**waiting["scan_progress"], "finished": True}}
        )
        is None
    )
    assert views.run.verification_wait({**waiting, "status": "running"}) is None
    assert views.run.verification_wait({"status": "queued", "scan_progress": None}) is None


def test_steps_default_caption_names_the_default_the_reason_and_the_full_folder():
    config = TrialConfig(dataset="/data/big", loader="tfdata_map_batch", epochs=3)
    # Without a past run: the runner's conservative 100 images/s, 20 s per epoch.
    text = views.run.steps_default_caption(10_000, config)
    assert text.startswith("Empty = 62 steps per epoch (1,984 images, about 19.8 s each)")
    assert "the full folder (10,000 images, 313 steps) takes about 1 min 40 s per epoch at 100 img/s" in text
    assert "conservative guess" in text
    small = views.run.steps_default_caption(550, config)
    assert small.startswith("Empty = whole epochs: the full folder (550 images, 18 steps) takes about 5.5 s")
