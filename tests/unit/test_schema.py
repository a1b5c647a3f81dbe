"""The store's schema (``diagnostics.schema``): an old store migrates forward in place, keeping its
runs and rewriting each run's scan as the bounded summary."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from diagnostics.export import run_json
from diagnostics.schema import _SCHEMA_V1, _V1_TO_V2, _V2_TO_V3, SCHEMA_VERSION
from diagnostics.store import Store


@pytest.mark.parametrize("from_version", [2, 3])
def test_migration_to_v4_keeps_runs_and_drops_file_lists(tmp_path: Path, from_version: int) -> None:
    home = tmp_path / "home"
    home.mkdir()
    conn = sqlite3.connect(home / "runs.sqlite")
    conn.executescript(_SCHEMA_V1 + _V1_TO_V2 + (_V2_TO_V3 if from_version == 3 else ""))
    old_scan = {
        "root": "/data/pets",
        "classes": ["cat", "dog"],
        "counts": {"cat": 2, "dog": 1},
        "files": [["cat/a.jpg", 0], ["cat/b.jpg", 0], ["dog/c.jpg", 1]],
        "sizes": [[100, 50], [200, 100], [300, 150]],
        "bad_files": [{"path": "dog/x.txt", "reason": "extension .txt is not read"}],
        "formats": {"JPEG": 3},
        "channel_modes": {"RGB": 3},
        "num_images": 3,
        "fingerprint": "f00",
        "decoded_bytes_per_image": 196608,
        "notes": [],
    }
    conn.execute(
        "INSERT INTO runs (created, status, config, dataset_path, scan, summary) VALUES (?, ?, ?, ?, ?, ?)",
        (
            "2026-01-01",
            "completed",
            json.dumps({"dataset": "/data/pets"}),
            "/data/pets",
            json.dumps(old_scan),
            json.dumps({"peak_rss_bytes": 123}),
        ),
    )
    conn.execute(f"PRAGMA user_version = {from_version}")
    conn.commit()
    conn.close()

    store = Store(home)
    assert store.schema_version() == SCHEMA_VERSION >= 4
    run = store.get_run(1)
    assert run["status"] == "completed" and run["summary"] == {"peak_rss_bytes": 123}
    scan = run["scan"]
    assert "files" not in scan and "sizes" not in scan
    assert scan["num_images"] == 3 and scan["fingerprint"] == "f00" and scan["bad_files_total"] == 1
    assert scan["size_stats"]["mean_pixels"] == pytest.approx((5000 + 20000 + 45000) / 3)
    assert run_json(store, 1)["bad_files"] == old_scan["bad_files"]
    assert store.integrity_check() == "ok"
