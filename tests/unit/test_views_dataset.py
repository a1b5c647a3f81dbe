"""diagnostics.views.dataset: the listing line, decoded size, verification progress and unreadable files (issue 12; from test_ui_folders.py)."""

from __future__ import annotations

from diagnostics import views


def test_listing_caption_and_decoded_size_are_arithmetic_on_the_listing():
    listing = {
        "counts": {f"c{i}": 1000 for i in range(8)},
        "extensions": {".jpg": 7990, ".png": 10, ".txt": 2},
        "total_bytes": 3 * 1024**3,
    }
    text = views.dataset.listing_caption(listing)
    assert text.startswith("8,000 files in 8 classes (c0 1,000, c1 1,000")
    assert "… 2 more" in text and "3.0 GiB on disk (.jpg 7,990, .png 10, .txt 2)" in text
    assert views.dataset.decoded_caption(64 * 64 * 3, 8000) == (
        "Decoded 12.0 KiB per image, 93.8 MiB for the folder (what cache() in memory would hold)."
    )


def test_verification_state_counts_and_finishes():
    fraction, text = views.dataset.verification_state(2500, 10000, 3, finished=False)
    assert fraction == 0.25
    assert "2,500 / 10,000 (25%) · 3 unreadable so far" in text
    assert views.dataset.verification_state(10000, 10000, 0, finished=True) == (
        1.0,
        "Verified 10,000 files: none unreadable.",
    )
    assert views.dataset.verification_state(0, 0, 0, finished=False)[0] == 0.0
    assert (
        "failed: disk gone" in views.dataset.verification_state(5, 10, 0, finished=True, error="disk gone")[1]
    )


def test_bad_files_text_names_a_few_and_counts_the_rest():
    bad = [{"path": f"c/{i}.jpg", "reason": "empty file (0 bytes)"} for i in range(5)]
    assert views.dataset.bad_files_text(bad, shown=2) == (
        "c/0.jpg (empty file (0 bytes)), c/1.jpg (empty file (0 bytes)) and 3 more"
    )


def test_a_broken_folder_is_counted_once_before_and_after_verification(tmp_path):
    """Issue 18 item 12: the listing said 37 (candidates), the scan 32 + 7, its chart broken = 8."""
    from diagnostics.dataset import folder_counts, list_folder, scan, scan_summary
    from tests.image_folders import make_broken_folder

    folder = make_broken_folder(tmp_path / "broken_files")
    listed, verified = folder_counts(list_folder(folder)), folder_counts(scan(folder, home=tmp_path / "h"))
    assert listed.files == verified.files == {"broken": 15, "good": 24}
    assert not listed.verified and listed.total_unreadable == 2  # empty.jpg and notes.txt, by name
    assert verified.readable == {"broken": 8, "good": 24} and verified.unreadable == {"broken": 7, "good": 0}
    assert (verified.total_files, verified.total_readable, verified.total_unreadable) == (39, 32, 7)
    summary = scan_summary(scan(folder, home=tmp_path / "h"))
    assert (summary["num_files"], summary["num_images"], summary["bad_files_total"]) == (39, 32, 7)
    assert views.dataset.listing_caption(list_folder(folder)).startswith(
        "39 files in 2 classes (broken 15, good 24)"
    )
