"""What a run stores of its scan (``dataset.scan_summary`` through ``Store``): a run's row does
not grow with the folder."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from diagnostics import dataset
from diagnostics.config import TrialConfig
from diagnostics.store import Store
from tests.image_folders import make_folder


def _row_bytes(store: Store, run_id: int) -> int:
    conn = sqlite3.connect(store.path)
    row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    conn.close()
    return sum(len(str(v)) for v in row if v is not None)


def test_a_runs_row_does_not_grow_with_the_folder(tmp_path: Path, diag_home: Path) -> None:
    store = Store()
    sizes = {}
    for count in (100, 5000):
        root = make_folder(tmp_path / f"ds{count}", count)
        # More bad files than a summary keeps: it caps the list and keeps the count.
        for i in range(dataset.SUMMARY_CAP + 10):
            (root / "c0" / f"bad_{i:04d}.png").write_bytes(b"not a png")
        result = dataset.scan(root)
        run_id = store.create_run(TrialConfig(dataset=str(root)), result)
        sizes[count] = _row_bytes(store, run_id)
        stored = store.get_run(run_id)["scan"]
        assert stored["num_images"] == count and "files" not in stored and "sizes" not in stored
        assert (
            stored["bad_files_total"] == dataset.SUMMARY_CAP + 10
            and len(stored["bad_files"]) <= dataset.SUMMARY_CAP
        )
    assert sizes[5000] < 1.2 * sizes[100], sizes
