"""diagnostics.ui: the display logic the pages call (option specs, progress, headline, tables)."""

from __future__ import annotations

import pandas as pd
import pytest

from diagnostics import ui

MIB = 1024 * 1024


def _events(*rows: tuple[str, dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"t": float(i), "kind": kind, "data": data} for i, (kind, data) in enumerate(rows)],
        columns=["t", "kind", "data"],
    )


# -- forms ----------------------------------------------------------------------------------------


def test_option_widget_spec_starts_each_widget_at_the_trialconfig_default():
    widget, kwargs = ui.option_widget_spec("cache", "select")
    assert widget == "selectbox" and kwargs["options"][kwargs["index"]] == ui.OPTION_DEFAULTS.cache
    widget, kwargs = ui.option_widget_spec("prefetch", "knob")
    assert kwargs["options"][kwargs["index"]] == str(ui.OPTION_DEFAULTS.prefetch)
    assert ui.option_widget_spec("shuffle", "bool") == ("checkbox", {"value": ui.OPTION_DEFAULTS.shuffle})
    # A seed may be 0; a batch size may not.
    assert ui.option_widget_spec("seed", "int")[1]["min_value"] == 0
    assert ui.option_widget_spec("batch_size", "int")[1]["min_value"] == 1
    assert ui.option_widget_spec("rescale", "opt_float")[1]["format"] == "%.5f"
    with pytest.raises(ValueError, match="unknown option kind"):
        ui.option_widget_spec("batch_size", "slider")


def test_every_option_spec_has_a_widget():
    for name, kind, _label, _help in ui.OPTION_SPECS:
        widget, _ = ui.option_widget_spec(name, kind)
        assert widget in {"selectbox", "checkbox", "number_input"}


def test_option_value_converts_widget_output_to_config_values():
    assert ui.option_value("knob", "4") == 4
    assert ui.option_value("knob", "auto") == "auto"
    assert ui.option_value("int", 64.0) == 64 and isinstance(ui.option_value("int", 64.0), int)
    assert ui.option_value("opt_int", None) is None
    assert ui.option_value("opt_int", 100.0) == 100
    assert ui.option_value("opt_float", 0.5) == 0.5


def test_changed_options_keeps_only_values_off_the_defaults():
    values = {"batch_size": 32, "cache": "memory", "shuffle": ui.OPTION_DEFAULTS.shuffle}
    assert ui.changed_options(values) == {"cache": "memory"}


def test_in_rows_splits_and_keeps_a_short_last_row():
    assert ui.in_rows([1, 2, 3, 4, 5, 6, 7], 3) == [[1, 2, 3], [4, 5, 6], [7]]
    assert ui.in_rows([], 3) == []


def test_limit_overrides_turns_mib_into_bytes_and_drops_empty_inputs():
    assert ui.limit_overrides(budget_mib=None, timeout_s=None) == {}
    assert ui.limit_overrides(budget_mib=512, timeout_s=90) == {
        "memory_budget_bytes": 512 * MIB,
        "timeout_seconds": 90.0,
    }
    assert set(ui.LIMIT_INPUTS) == {"budget", "timeout"}


def test_run_choices_label_and_status_filter():
    runs = pd.DataFrame(
        [
            {
                "id": 2,
                "loader": "tf_data",
                "dataset_path": "/d/flowers",
                "status": "completed",
                "created": "t2",
            },
            {"id": 1, "loader": "keras", "dataset_path": "/d/cats", "status": "running", "created": "t1"},
        ]
    )
    assert ui.run_choices(runs) == {
        2: "#2 tf_data · flowers · completed · t2",
        1: "#1 keras · cats · running · t1",
    }
    assert list(ui.run_choices(runs, ("completed",))) == [2]


# -- one run --------------------------------------------------------------------------------------


def test_status_markdown_and_queue_text():
    run = {"id": 7, "status": "killed_budget", "loader": "tf_data", "dataset_path": "/d"}
    text = ui.status_markdown(run)
    assert "**Run #7**" in text and "Killed: memory budget crossed" in text and "`/d`" in text
    assert ui.queue_text(2) == "Waiting in the queue: 2 trial(s) ahead of this one."
    assert ui.queue_text(0).startswith("Next in line")


def test_memory_figure_marks_fall_back_to_the_ready_event_and_config_while_live():
    events = _events(("ready", {"rss_bytes": 500 * MIB}))
    live = {"t_ready": 3.0, "config": {"memory_budget_bytes": 2048 * MIB}}
    assert ui.memory_figure_marks(live, events) == {
        "t_ready": 3.0,
        "baseline_bytes": 500 * MIB,
        "budget_bytes": 2048 * MIB,
        "peak_bytes": None,
    }
    done = {"summary": {"baseline_rss_bytes": 510 * MIB, "peak_rss_bytes": 900 * MIB}}
    marks = ui.memory_figure_marks(done, events)
    assert marks["baseline_bytes"] == 510 * MIB and marks["peak_bytes"] == 900 * MIB
    assert ui.ready_rss_bytes(_events()) is None


def test_progress_state_before_ready_during_epochs_and_from_the_scan():
    run = {"config": {"epochs": 2, "steps": 10}}
    assert ui.progress_state(run, _events()) == (0.0, "Starting the worker (importing TensorFlow)…")
    events = _events(
        ("ready", {}),
        ("epoch_start", {"epoch": 0}),
        ("step", {"epoch": 0, "step": 9}),
        ("epoch_start", {"epoch": 1}),
        ("step", {"epoch": 1, "step": 4}),
    )
    fraction, text = ui.progress_state(run, events)
    assert fraction == pytest.approx(0.75) and text == "Epoch 2/2 · step 5/10"
    # No step limit: 100 images at batch 32 make 4 steps per epoch.
    whole = {"config": {"epochs": 1, "batch_size": 32}, "scan": {"num_images": 100}}
    halfway = _events(("ready", {}), ("epoch_start", {"epoch": 0}), ("step", {"epoch": 0, "step": 1}))
    assert ui.progress_state(whole, halfway) == (0.5, "Epoch 1/1 · step 2/4")


def test_leak_verdict_text_and_headline_metrics():
    assert ui.leak_verdict_text({"summary": {}}) == ("n/a", "Needs at least 3 epochs.")
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
    label, detail = ui.leak_verdict_text(run)
    assert label == "growing +2.0 MiB/epoch" and "Noise band ±1.0 MiB/epoch." in detail
    metrics = ui.headline_metrics(run)
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
    captions = ui.headline_captions(run)
    assert captions[3] == "+2.0 MiB/epoch" and len(captions) == 4
    assert "baseline 600.0 MiB" in metrics[1][2]


def test_finding_markdown_adds_advice_when_there_is_some():
    finding = {"id": "cache_growth", "title": "Cache grows", "detail": "+355 MiB in epoch 1"}
    assert ui.finding_markdown(finding) == "**Cache grows**  \n+355 MiB in epoch 1"
    assert ui.finding_markdown({**finding, "advice": "cache to a file"}).endswith("  \n→ cache to a file")


def test_log_groups_caption_and_table_most_frequent_first():
    groups = [
        {"count": 2, "level": "W", "known": False, "template": "odd <n>", "per_epoch": [1, 1]},
        {"count": 5, "level": "I", "known": True, "source": "tf", "template": "ok", "explanation": "why"},
    ]
    assert ui.log_groups_caption(groups) == "Log lines: 7 in 2 groups (1 known, 1 with no verified source)"
    table = ui.log_groups_table(groups)
    assert list(table["count"]) == [5, 2]
    assert list(table["known"]) == ["known", "unknown"]
    assert table["explanation"].iloc[1] == "no verified source" and table["source"].iloc[1] == "–"
    assert table["per epoch"].iloc[1] == "1, 1"
    assert ui.epoch_start_times(_events(("ready", {}), ("epoch_start", {}))) == [1.0]


# -- history and sweep tables ---------------------------------------------------------------------


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": i,
                "created": f"t{i}",
                "status": status,
                "dataset_path": path,
                "loader": loader,
                "mode": "iterate",
                "peak_rss_bytes": 900 * MIB,
                "baseline_rss_bytes": 600 * MIB,
                "images_per_second": 100.0,
                "leak_bytes_per_epoch": None,
                "sweep_id": None,
                "error": None,
            }
            for i, status, path, loader in [
                (1, "completed", "/d/Sample_Data", "tf_data"),
                (2, "failed", "/d/other", "keras"),
                (3, "completed", None, "keras"),
            ]
        ]
    )


def test_filter_runs_by_status_loader_and_dataset_text():
    runs = _runs()
    assert list(ui.filter_runs(runs)["id"]) == [1, 2, 3]
    assert list(ui.filter_runs(runs, statuses=["completed"])["id"]) == [1, 3]
    assert list(ui.filter_runs(runs, loaders=["keras"])["id"]) == [2, 3]
    assert list(ui.filter_runs(runs, text="sample_data")["id"]) == [1]  # case-insensitive, no regex


def test_history_table_shows_memory_in_mib():
    table = ui.history_table(_runs())
    assert list(table.columns) == ui.HISTORY_COLUMNS
    assert table["peak_mib"].iloc[0] == 900.0 and table["baseline_mib"].iloc[0] == 600.0
    assert table["leak_mib_per_epoch"].isna().all()


def test_sweep_points_labels_and_trial_table():
    result = {
        "front": [{"id": 4}],
        "rows": [
            {
                "id": 4,
                "options": {"cache": "memory", "image_size": [64, 64]},
                "status": "completed",
                "peak_rss_bytes": 800 * MIB,
                "steady_images_per_second": None,
                "images_per_second": 50.0,
            },
            {
                "id": 5,
                "options": {"cache": "none"},
                "status": "failed",
                "peak_rss_bytes": None,
                "steady_images_per_second": None,
                "images_per_second": None,
            },
        ],
    }
    points = ui.sweep_points_frame(result)
    assert list(points["label"]) == ["#4 cache=memory, image_size=64 × 64", "#5 cache=none"]
    assert list(points["on_front"]) == [True, False]
    assert points["images_per_second"].iloc[0] == 50.0  # falls back to the whole-run rate
    table = ui.sweep_trials_table(points)
    assert list(table["peak"]) == ["800.0 MiB", "–"] and table["throughput"].iloc[0] == "50.0 img/s"
    sweeps = pd.DataFrame([{"id": 1, "name": "cache", "status": "done", "runs": 3, "created": "t"}])
    assert ui.sweep_labels(sweeps) == {1: "#1 cache · done · 3 runs · t"}
    assert ui.grid_values(["none", (64, 64)]) == ["none", [64, 64]]


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
    table = ui.projection_table(projection)
    assert list(table.columns) == ["", "value"]
    values = dict(zip(table[""], table["value"], strict=True))
    assert values["Images in the folder"] == "5,500"
    assert values["Peak overhead, whole folder"] == "300.0 MiB"
    assert values["In-memory cache, whole folder"] == "– (no in-memory cache)"
    assert "None" not in table.to_string() and "null" not in table.to_string()
