"""Smoke test of bench/scale.py and bench/make_folder.py on a tiny generated folder (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import make_folder, scale


def test_generator_is_deterministic_and_photo_like(tmp_path: Path) -> None:
    assert make_folder.make_folder(tmp_path / "a", 12, classes=3) == 12
    assert make_folder.make_folder(tmp_path / "a", 12, classes=3) == 0  # resumes: nothing left
    make_folder.make_folder(tmp_path / "b", 12, classes=3)
    first = sorted(p.read_bytes() for p in (tmp_path / "a").rglob("*.jpg"))
    assert first == sorted(p.read_bytes() for p in (tmp_path / "b").rglob("*.jpg"))
    assert len(set(first)) == 12 and all(10_000 < len(b) < 120_000 for b in first)


def test_measure_folder_reports_every_figure(tmp_path: Path) -> None:
    make_folder.make_folder(tmp_path / "ds", 20, classes=2)
    row = scale.measure_folder(str(tmp_path / "ds"), str(tmp_path / "home"), 20, tmp_path)
    assert row["files"] == 20 and row["cold_files"] == 20 and row["warm_complete"]
    for key in ("listing_seconds", "cold_parallel_seconds", "cold_one_core_seconds", "warm_rescan_seconds"):
        assert row[key] > 0
    assert 500 < row["run_row_bytes"] < 10_000
