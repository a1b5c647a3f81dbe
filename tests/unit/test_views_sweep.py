"""diagnostics.views.sweep: sweep trial points and table (from test_ui.py)."""

from __future__ import annotations

import pandas as pd

from diagnostics import form, views

MIB = 1024 * 1024


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
    points = views.sweep.sweep_points_frame(result)
    assert list(points["label"]) == ["#4 cache=memory, image_size=64 × 64", "#5 cache=none"]
    assert list(points["on_front"]) == [True, False]
    assert points["images_per_second"].iloc[0] == 50.0  # falls back to the whole-run rate
    table = views.sweep.sweep_trials_table(points)
    assert list(table["peak"]) == ["800.0 MiB", "–"] and table["throughput"].iloc[0] == "50.0 img/s"
    sweeps = pd.DataFrame([{"id": 1, "name": "cache", "status": "done", "runs": 3, "created": "t"}])
    assert views.sweep.sweep_labels(sweeps) == {1: "#1 cache · done · 3 runs · t"}
    assert form.grid_values(["none", (64, 64)]) == ["none", [64, 64]]


def test_the_plan_says_how_many_trials_and_how_long_where_they_run():
    assert views.sweep.plan_text(4, 120.0, "local", None) == "4 trial(s), about 2 min 00 s one after another."
    assert (
        views.sweep.plan_text(4, 120.0, "ray", 2) == "4 trial(s), about 1 min 00 s on 2 nodes side by side."
    )


def test_progress_counts_finished_trials_against_the_planned_total():
    rows = [{"status": "completed"}, {"status": "killed_budget"}, {"status": "running"}]
    result = {"rows": rows, "status": "running"}
    assert views.sweep.progress({"summary": {"trials": 8}}, result) == (
        0.25,
        "2 of 8 trials finished · sweep running",
        2,
    )
    # no planned total stored yet: the trials listed so far
    assert views.sweep.progress({"summary": None}, result)[:2] == (
        2 / 3,
        "2 of 3 trials finished · sweep running",
    )
    assert views.sweep.progress({}, {"rows": [], "status": "created"})[0] == 0.0
