"""ui helpers behind the folder picker, the listing line and the verification progress (issue 12)."""

from __future__ import annotations

from diagnostics import ui
from diagnostics.config import TrialConfig


def test_default_folder_is_the_last_one_used_else_sample_data_never_a_root(tmp_path):
    root, sample = tmp_path / "data", tmp_path / "sample_data"
    (root / "flowers" / "roses").mkdir(parents=True)
    (sample / "a").mkdir(parents=True)
    roots = [str(root), str(sample)]
    flowers = str(root / "flowers")
    assert ui.default_folder(flowers, roots, str(sample)) == flowers
    assert ui.default_folder(None, roots, str(sample)) == str(sample)  # sample_data may be a root
    assert ui.default_folder(str(root), roots, str(sample)) == str(sample)  # a root: never
    assert ui.default_folder(str(root / "gone"), roots, str(sample)) == str(sample)
    # Outside the roots now (DIAG_DATA_ROOTS changed), and sample_data not allowed: nothing.
    assert ui.default_folder(flowers, [str(tmp_path / "other")], str(sample)) is None
    assert ui.default_folder(None, [str(root)], str(sample)) is None


def test_the_last_folder_round_trips_through_diag_home(tmp_path):
    home = tmp_path / "home"
    assert ui.last_folder(home) is None
    ui.remember_folder(home, "/data/flowers")
    ui.remember_folder(home, "/data/birds")
    assert ui.last_folder(home) == "/data/birds"
    assert sorted(p.name for p in home.iterdir()) == ["last_folder"]  # no temporary left behind


def test_folder_choices_put_the_default_first_without_duplicates(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert ui.folder_choices(b, [a, b]) == [b, a]
    assert ui.folder_choices(None, [a, b]) == [a, b]


def test_listing_caption_and_decoded_size_are_arithmetic_on_the_listing():
    listing = {
        "counts": {f"c{i}": 1000 for i in range(8)},
        "extensions": {".jpg": 7990, ".png": 10, ".txt": 2},
        "total_bytes": 3 * 1024**3,
    }
    text = ui.listing_caption(listing)
    assert text.startswith("8,000 images in 8 classes (c0 1,000, c1 1,000")
    assert "… 2 more" in text and "3.0 GiB on disk (.jpg 7,990, .png 10, .txt 2)" in text
    assert ui.decoded_caption(64 * 64 * 3, 8000) == (
        "Decoded 12.0 KiB per image, 93.8 MiB for the folder (what cache() in memory would hold)."
    )


def test_verification_state_counts_and_finishes():
    fraction, text = ui.verification_state(2500, 10000, 3, finished=False)
    assert fraction == 0.25
    assert "2,500 / 10,000 (25%) · 3 unreadable so far" in text
    assert ui.verification_state(10000, 10000, 0, finished=True) == (
        1.0,
        "Verified 10,000 files: none unreadable.",
    )
    assert ui.verification_state(0, 0, 0, finished=False)[0] == 0.0
    assert "failed: disk gone" in ui.verification_state(5, 10, 0, finished=True, error="disk gone")[1]


def test_bad_files_text_names_a_few_and_counts_the_rest():
    bad = [{"path": f"c/{i}.jpg", "reason": "empty file (0 bytes)"} for i in range(5)]
    assert ui.bad_files_text(bad, shown=2) == (
        "c/0.jpg (empty file (0 bytes)), c/1.jpg (empty file (0 bytes)) and 3 more"
    )


def test_verification_wait_only_while_a_queued_run_waits_for_its_folder():
    waiting = {"status": "queued", "scan_progress": {"done": 300, "total": 1200, "bad": 2, "finished": False}}
    fraction, text = ui.verification_wait(waiting)
    assert fraction == 0.25
    assert text.startswith("Waiting for the folder's verification") and "300 / 1,200" in text
    assert (
        ui.verification_wait({**waiting, "scan_progress": {**waiting["scan_progress"], "finished": True}})
        is None
    )
    assert ui.verification_wait({**waiting, "status": "running"}) is None
    assert ui.verification_wait({"status": "queued", "scan_progress": None}) is None


def test_steps_default_caption_names_the_default_the_reason_and_the_full_folder():
    config = TrialConfig(dataset="/data/big", loader="tfdata_map_batch", epochs=3)
    # Without a past run: the runner's conservative 100 images/s, 20 s per epoch.
    text = ui.steps_default_caption(10_000, config)
    assert text.startswith("Empty = 62 steps per epoch (1,984 images, about 19.8 s each)")
    assert "the full folder (10,000 images, 313 steps) takes about 1 min 40 s per epoch at 100 img/s" in text
    assert "conservative guess" in text
    small = ui.steps_default_caption(550, config)
    assert small.startswith("Empty = whole epochs: the full folder (550 images, 18 steps) takes about 5.5 s")
