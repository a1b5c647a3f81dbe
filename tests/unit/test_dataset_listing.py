"""Tier 1 of a scan (``dataset.listing``) and finding datasets (``dataset.roots``): names, sizes
and mtimes only, no file opened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diagnostics import dataset
from diagnostics.dataset import listing as dataset_listing
from tests.image_folders import make_folder, tiny_png


def test_listing_opens_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_folder(tmp_path / "ds", 20)
    (root / "c0" / "readme.txt").write_text("x")

    def no_open(*args, **kwargs):
        raise AssertionError("list_folder opened a file")

    monkeypatch.setattr("builtins.open", no_open)
    listing = dataset.list_folder(root)
    assert listing.num_files == 20
    assert listing.counts == {"c0": 5, "c1": 5, "c2": 5, "c3": 5}
    assert listing.extensions == {".png": 20, ".txt": 1}
    assert listing.total_bytes == 20 * len(tiny_png())
    assert [b["path"] for b in listing.bad_files] == ["c0/readme.txt"]
    assert "files" not in listing.to_summary()


def test_listing_of_mixed_folders_counts_every_extension(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "ds", 8, classes=2)
    (root / "c0" / "upper.JPEG").write_bytes(tiny_png())
    (root / "c0" / "photo.jpeg").write_bytes(tiny_png())
    (root / "c1" / "empty.png").write_bytes(b"")
    (root / "c1" / "notes.md").write_text("x")
    (root / "c1" / "sub").mkdir()
    (root / "c1" / "sub" / "deep.Jpg").write_bytes(tiny_png())
    listing = dataset.list_folder(root)
    assert listing.extensions == {".jpeg": 2, ".jpg": 1, ".md": 1, ".png": 9}
    assert listing.counts == {"c0": 6, "c1": 5} and listing.num_files == 11
    assert {b["path"]: b["reason"] for b in listing.bad_files}["c1/empty.png"] == "empty file (0 bytes)"
    assert "c1/sub/deep.Jpg" in [f[0] for f in listing.files]
    assert [f[0] for f in listing.files] == sorted(f[0] for f in listing.files)


def test_a_file_gone_between_listing_and_stat_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "ds", 8, classes=2)
    real = dataset_listing._walk_class

    def racing(class_dir, *args):
        for entries in real(class_dir, *args):
            if class_dir.endswith("c1"):
                os.unlink(entries[0].path)  # listed by scandir, deleted before its stat
            yield entries

    monkeypatch.setattr(dataset_listing, "_walk_class", racing)
    listing = dataset.list_folder(root)
    assert listing.counts == {"c0": 4, "c1": 3}
    (gone,) = listing.bad_files
    assert gone["path"].startswith("c1/") and gone["reason"].startswith("cannot read")


def test_find_datasets_lists_datasets_not_their_parents(tmp_path: Path) -> None:
    make_folder(tmp_path / "data" / "pets", 4, classes=2)
    make_folder(tmp_path / "data" / "deep" / "er" / "flowers", 4, classes=2)
    (tmp_path / "data" / "notes").mkdir()
    found = dataset.find_datasets([tmp_path / "data"])
    assert found == [str(tmp_path / "data" / "deep" / "er" / "flowers"), str(tmp_path / "data" / "pets")]
