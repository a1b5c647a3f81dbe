"""diagnostics.views.history: the History filters and table (from test_ui.py)."""

from __future__ import annotations

import pandas as pd

from diagnostics import views

MIB = 1024 * 1024


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
    assert list(views.history.filter_runs(runs)["id"]) == [1, 2, 3]
    assert list(views.history.filter_runs(runs, statuses=["completed"])["id"]) == [1, 3]
    assert list(views.history.filter_runs(runs, loaders=["keras"])["id"]) == [2, 3]
    assert list(views.history.filter_runs(runs, text="sample_data")["id"]) == [
        1
    ]  # case-insensitive, no regex


def test_history_table_shows_memory_in_mib():
    table = views.history.history_table(_runs())
    assert list(table.columns) == views.history.HISTORY_COLUMNS
    assert table["peak_mib"].iloc[0] == 900.0 and table["baseline_mib"].iloc[0] == 600.0
    assert table["leak_mib_per_epoch"].isna().all()
