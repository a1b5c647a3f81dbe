"""Issue 22.6: the verdict cache notices a permission change. chmod changes a file's ctime (and its
mode) but not its size or mtime, which were the cache's whole key: a file made unreadable after a
scan passed as readable and the trial failed on it instead of skipping it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diagnostics import dataset
from diagnostics.dataset import inspect as dataset_inspect
from tests.image_folders import make_folder

IS_ROOT = os.geteuid() == 0  # root reads a chmod 000 file: only the re-verification is observable


def _opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    real = dataset_inspect._inspect
    monkeypatch.setattr(dataset_inspect, "_inspect", lambda path: opened.append(path) or real(path))
    return opened


def test_a_chmod_after_a_scan_verifies_that_file_again(
    tmp_path: Path, diag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "ds", 20)
    first = dataset.scan(root)
    assert first.num_images == 20
    opened = _opened(monkeypatch)
    target = root / "c1" / "img_000001.png"
    before = target.stat()
    target.chmod(0)
    try:
        after = target.stat()
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)  # the old key
        again = dataset.scan(root)
        assert opened == [str(target)]  # the cached verdict was not trusted; nothing else reopened
        rels = [rel for rel, _ in again.files]
        if IS_ROOT:  # root still reads it: it is honestly readable
            assert "c1/img_000001.png" in rels and again.num_images == 20
        else:  # the loaders skip it instead of failing on it
            assert "c1/img_000001.png" not in rels and again.num_images == 19
            reasons = {b["path"]: b["reason"] for b in again.bad_files}
            assert reasons["c1/img_000001.png"] == "cannot read: permission denied"
        assert again.fingerprint == first.fingerprint  # names, sizes, mtimes: the same dataset
    finally:
        target.chmod(0o644)
    opened.clear()
    restored = dataset.scan(root)
    assert opened == [str(target)] and restored.num_images == 20  # chmod back: verified again


def test_a_shared_verification_job_is_not_reused_after_a_chmod(tmp_path: Path, diag_home: Path) -> None:
    root = make_folder(tmp_path / "ds", 8)
    job = dataset.start_verification(root, home=diag_home)
    job.result(timeout=60)
    assert dataset.start_verification(root, home=diag_home) is job  # unchanged folder: one job
    (root / "c0" / "img_000000.png").chmod(0o400)
    assert dataset.start_verification(root, home=diag_home) is not job
