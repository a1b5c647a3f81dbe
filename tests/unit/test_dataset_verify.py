"""Tier 2 of a scan (``dataset.verification``) and its verdict cache (``dataset.cache``): a warm
re-scan opens nothing, a change re-verifies only what changed, the pool agrees with one process,
and sessions share one job per folder state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diagnostics import dataset
from diagnostics.dataset import inspect as dataset_inspect
from diagnostics.dataset import verification
from diagnostics.dataset.cache import ScanCache
from tests.image_folders import make_folder, tiny_png


def test_warm_rescan_opens_nothing_and_a_change_reverifies_only_it(
    tmp_path: Path, diag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "ds", 30)
    first = dataset.scan(root)
    assert first.num_images == 30
    opened: list[str] = []
    real = dataset_inspect._inspect
    monkeypatch.setattr(dataset_inspect, "_inspect", lambda path: opened.append(path) or real(path))
    again = dataset.scan(root)
    assert opened == [] and again.files == first.files and again.sizes == first.sizes
    changed = root / "c1" / "img_000001.png"
    changed.write_bytes(b"garbage, not a png")
    third = dataset.scan(root)
    assert opened == [str(changed)]
    assert {b["path"] for b in third.bad_files} == {"c1/img_000001.png"}


def test_added_and_deleted_files_are_noticed_and_only_new_ones_opened(
    tmp_path: Path, diag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "ds", 12)
    dataset.scan(root)
    # Unchanged: the one snapshot answers; the per-file rows are not even read.
    rows = ScanCache.load
    monkeypatch.setattr(ScanCache, "load", lambda self: pytest.fail("rows read for an unchanged folder"))
    assert dataset.scan(root).num_images == 12
    monkeypatch.setattr(ScanCache, "load", rows)
    opened: list[str] = []
    real = dataset_inspect._inspect
    monkeypatch.setattr(dataset_inspect, "_inspect", lambda path: opened.append(path) or real(path))
    (root / "c0" / "img_000000.png").unlink()
    (root / "c3" / "new.png").write_bytes(tiny_png())
    result = dataset.scan(root)
    assert opened == [str(root / "c3" / "new.png")]
    rels = [rel for rel, _ in result.files]
    assert "c0/img_000000.png" not in rels and "c3/new.png" in rels and result.num_images == 12
    assert result.counts == {"c0": 2, "c1": 3, "c2": 3, "c3": 4}
    cache = ScanCache(diag_home, result.root)
    assert "c0/img_000000.png" not in cache.load()  # the deleted file's row is gone too
    cache.close()


def test_a_file_rewritten_in_place_is_verified_again(tmp_path: Path, diag_home: Path) -> None:
    root = make_folder(tmp_path / "ds", 6)
    first = dataset.scan(root)
    target = root / "c1" / "img_000001.png"
    stat = target.stat()
    target.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (stat.st_size - 8))  # same size, new mtime
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    again = dataset.scan(root)
    assert again.fingerprint != first.fingerprint
    assert [b["path"] for b in again.bad_files] == ["c1/img_000001.png"] and again.num_images == 5


def test_image_size_dtype_colour_never_rescan(tmp_path: Path, diag_home: Path, monkeypatch) -> None:
    root = make_folder(tmp_path / "ds", 8)
    result = dataset.scan(root)
    monkeypatch.setattr(verification, "list_folder", lambda *a, **k: pytest.fail("rescanned"))
    other = result.with_decoding((64, 32), "grayscale", "uint8")
    assert other.decoded_bytes_per_image == 64 * 32 and other.files == result.files


def test_pool_verification_matches_in_process(tmp_path: Path, diag_home: Path) -> None:
    root = make_folder(tmp_path / "ds", dataset.PARALLEL_MIN_FILES + 50)
    (root / "c2" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    listing = dataset.list_folder(root)
    progress: list[tuple[int, int, int]] = []
    pooled = dataset.verify(
        listing, workers=2, home=tmp_path / "h1", on_progress=lambda *p: progress.append(p)
    )
    serial = dataset.verify(listing, workers=1, home=tmp_path / "h2")
    assert pooled.files == serial.files and pooled.bad_files == serial.bad_files
    assert progress[-1] == (listing.num_files, listing.num_files, 1)
    assert [b["path"] for b in pooled.bad_files] == ["c2/broken.png"]


def test_shared_job(tmp_path: Path, diag_home: Path) -> None:
    root = make_folder(tmp_path / "ds", 10)
    job = dataset.start_verification(root)
    assert dataset.start_verification(root) is job
    result = job.result(timeout=30)
    assert job.finished and job.progress() == (10, 10) and result.num_images == 10
