"""Issue 12: two-tier scan, cache, bounded run rows, store migration, loader-skipped files."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from diagnostics import analysis, dataset, prepare, process, recover, runner
from diagnostics.config import TrialConfig
from diagnostics.store import _SCHEMA_V1, _V1_TO_V2, _V2_TO_V3, SCHEMA_VERSION, Store

TINY_PNG = None


def _tiny_png() -> bytes:
    global TINY_PNG
    if TINY_PNG is None:
        import io

        buffer = io.BytesIO()
        Image.new("RGB", (12, 10), (200, 30, 30)).save(buffer, format="PNG")
        TINY_PNG = buffer.getvalue()
    return TINY_PNG


def make_folder(root: Path, count: int, classes: int = 4) -> Path:
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True, exist_ok=True)
    data = _tiny_png()
    for i in range(count):
        (root / f"c{i % classes}" / f"img_{i:06d}.png").write_bytes(data)
    return root


# -- listing and verification -------------------------------------------------------------------


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
    assert listing.total_bytes == 20 * len(_tiny_png())
    assert [b["path"] for b in listing.bad_files] == ["c0/readme.txt"]
    assert "files" not in listing.to_summary()


def test_warm_rescan_opens_nothing_and_a_change_reverifies_only_it(
    tmp_path: Path, diag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "ds", 30)
    first = dataset.scan(root)
    assert first.num_images == 30
    opened: list[str] = []
    real = dataset._inspect
    monkeypatch.setattr(dataset, "_inspect", lambda path: opened.append(path) or real(path))
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
    from diagnostics.scan_cache import ScanCache

    root = make_folder(tmp_path / "ds", 12)
    dataset.scan(root)
    # Unchanged: the one snapshot answers; the per-file rows are not even read.
    rows = ScanCache.load
    monkeypatch.setattr(ScanCache, "load", lambda self: pytest.fail("rows read for an unchanged folder"))
    assert dataset.scan(root).num_images == 12
    monkeypatch.setattr(ScanCache, "load", rows)
    opened: list[str] = []
    real = dataset._inspect
    monkeypatch.setattr(dataset, "_inspect", lambda path: opened.append(path) or real(path))
    (root / "c0" / "img_000000.png").unlink()
    (root / "c3" / "new.png").write_bytes(_tiny_png())
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


def test_listing_of_mixed_folders_counts_every_extension(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "ds", 8, classes=2)
    (root / "c0" / "upper.JPEG").write_bytes(_tiny_png())
    (root / "c0" / "photo.jpeg").write_bytes(_tiny_png())
    (root / "c1" / "empty.png").write_bytes(b"")
    (root / "c1" / "notes.md").write_text("x")
    (root / "c1" / "sub").mkdir()
    (root / "c1" / "sub" / "deep.Jpg").write_bytes(_tiny_png())
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
    real = dataset._walk_class

    def racing(class_dir, *args):
        for entries in real(class_dir, *args):
            if class_dir.endswith("c1"):
                os.unlink(entries[0].path)  # listed by scandir, deleted before its stat
            yield entries

    monkeypatch.setattr(dataset, "_walk_class", racing)
    listing = dataset.list_folder(root)
    assert listing.counts == {"c0": 4, "c1": 3}
    (gone,) = listing.bad_files
    assert gone["path"].startswith("c1/") and gone["reason"].startswith("cannot read")


def test_image_size_dtype_colour_never_rescan(tmp_path: Path, diag_home: Path, monkeypatch) -> None:
    root = make_folder(tmp_path / "ds", 8)
    result = dataset.scan(root)
    monkeypatch.setattr(dataset, "list_folder", lambda *a, **k: pytest.fail("rescanned"))
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


def test_find_datasets_lists_datasets_not_their_parents(tmp_path: Path) -> None:
    make_folder(tmp_path / "data" / "pets", 4, classes=2)
    make_folder(tmp_path / "data" / "deep" / "er" / "flowers", 4, classes=2)
    (tmp_path / "data" / "notes").mkdir()
    found = dataset.find_datasets([tmp_path / "data"])
    assert found == [str(tmp_path / "data" / "deep" / "er" / "flowers"), str(tmp_path / "data" / "pets")]


# -- what a run stores ----------------------------------------------------------------------------


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
    assert store.run_json(1)["bad_files"] == old_scan["bad_files"]
    assert store.integrity_check() == "ok"


# -- a loader that delivers fewer images than the scan found ------------------------------------


def _gif_folder(root: Path) -> Path:
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
    Image.new("RGB", (20, 20), "red").save(root / "cats" / "a.png")
    Image.new("RGB", (20, 20), "blue").save(root / "cats" / "b.gif")
    Image.new("RGB", (20, 20), "green").save(root / "dogs" / "c.jpg")
    return root


def test_image_data_generator_gif_is_named_with_the_reason(tmp_path: Path, diag_home: Path) -> None:
    root = _gif_folder(tmp_path / "ds")
    store = Store()
    config = TrialConfig(dataset=str(root), loader="image_data_generator", epochs=2)
    run_id, _, _ = prepare.prepare_trial(config, store, allowed_roots=[tmp_path])
    run = store.get_run(run_id)
    assert run["scan"]["num_images"] == 3
    skipped = run["scan"]["loader_skipped"]
    assert [s["path"] for s in skipped] == ["cats/b.gif"]
    assert ".gif" in skipped[0]["reason"] and "flow_from_directory" in skipped[0]["reason"]
    assert run["scan"]["loader_images"] == 2

    # Each epoch then delivers 2, not 3: the finding names the file and why.
    events = []
    for epoch in range(2):
        events.append({"t": 10.0 + epoch, "kind": "epoch_start", "data": {"epoch": epoch}})
        events.append(
            {"t": 10.5 + epoch, "kind": "epoch_end", "data": {"epoch": epoch, "images": 2, "seconds": 0.5}}
        )
    import pandas as pd

    result = analysis.analyze(
        {**run, "status": "completed"}, pd.DataFrame(), pd.DataFrame(events), pd.DataFrame(), None
    )
    found = {f["id"]: f for f in result["findings"]}
    assert "delivered_fewer" in found
    text = found["delivered_fewer"]["detail"]
    assert "cats/b.gif" in text and "2 of the 3" in text and ".gif" in text
    assert result["summary"]["delivered_fewer"]["files"][0]["path"] == "cats/b.gif"


def test_other_loaders_read_the_gif(tmp_path: Path, diag_home: Path) -> None:
    root = _gif_folder(tmp_path / "ds")
    store = Store()
    run_id, _, _ = prepare.prepare_trial(TrialConfig(dataset=str(root)), store, allowed_roots=[tmp_path])
    scan = store.get_run(run_id)["scan"]
    assert scan.get("loader_skipped") in (None, []) and scan["loader_images"] == 3


def test_fewer_without_a_known_reason_still_says_so(tmp_path: Path) -> None:
    import pandas as pd

    run = {
        "id": 1,
        "status": "completed",
        "config": {"dataset": "d", "loader": "keras_directory", "epochs": 1},
        "scan": {"num_images": 10, "loader_images": 10, "bad_files_total": 0},
    }
    events = [
        {"t": 1.0, "kind": "epoch_start", "data": {"epoch": 0}},
        {"t": 2.0, "kind": "epoch_end", "data": {"epoch": 0, "images": 9, "seconds": 1.0}},
    ]
    result = analysis.analyze(run, pd.DataFrame(), pd.DataFrame(events), pd.DataFrame(), None)
    found = {f["id"]: f for f in result["findings"]}
    assert "9 of the 10" in found["delivered_fewer"]["detail"]


def test_trial_folder_names_carry_the_runner_and_stale_ones_go(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(process.tempfile, "gettempdir", lambda: str(tmp_path))
    live = process.make_trial_folder()
    assert f"-{os.getpid()}-" in os.path.basename(live)
    dead = tmp_path / "diag-trial-999999999-1-abc"
    dead.mkdir()
    (dead / "trial.json").write_text("{}")
    reused = tmp_path / f"diag-trial-{os.getpid()}-1-xyz"  # our pid, another start time: a dead runner
    reused.mkdir()
    removed = recover.clean_stale_trial_folders()
    assert sorted(removed) == sorted([str(dead), str(reused)])
    assert os.path.isdir(live)


# -- trials sized for a minute ----------------------------------------------------------------------


def test_default_steps_whole_epochs_for_sample_data(sample_data_dir: Path, diag_home: Path) -> None:
    store = Store()
    run_id, config, _ = prepare.prepare_trial(TrialConfig(dataset=str(sample_data_dir)), store)
    assert config.steps is None
    reason = store.get_run(run_id)["config"]["extra"]["steps_default"]
    assert reason["steps"] is None and reason["text"].startswith("whole epochs")


def test_default_steps_for_a_big_folder_and_from_past_runs(tmp_path: Path, diag_home: Path) -> None:
    root = make_folder(tmp_path / "big", 5000)
    store = Store()
    config = TrialConfig(dataset=str(root))
    run_id, picked, _ = prepare.prepare_trial(config, store, allowed_roots=[tmp_path])
    rate = prepare.CONSERVATIVE_RATE["iterate"]
    assert picked.steps == int(rate * prepare.TRIAL_EPOCH_SECONDS // 32)
    reason = store.get_run(run_id)["config"]["extra"]["steps_default"]
    assert reason["rate_source"] == "conservative default" and f"--steps {picked.steps}" in reason["text"]
    assert "5,000 images" in reason["text"]
    # A completed run at 1,000 images/s on this folder: 20 s then hold 20,000 images, so whole epochs.
    store.update_run(run_id, status="completed", summary={"images_per_second": 1000.0})
    _, again, _ = prepare.prepare_trial(config, store, allowed_roots=[tmp_path])
    assert again.steps is None
    # The user's own --steps is kept and no default is recorded.
    _, own, _ = prepare.prepare_trial(config.replace(steps=3), store, allowed_roots=[tmp_path])
    assert own.steps == 3 and "steps_default" not in own.extra


# -- a run started before verification ends waits with its progress on the run -----------------------


def test_background_run_waits_for_verification_with_progress(
    tmp_path: Path, diag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "DIAG_TEST_WORKER", str(Path(__file__).resolve().parents[1] / "fakes" / "fake_worker.py")
    )
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.1")
    root = make_folder(tmp_path / "ds", 40)
    (root / "c1" / "broken.png").write_bytes(b"not a png at all")
    gate = __import__("threading").Event()
    real = dataset._verify_chunk

    def slow_chunk(folder, rels):  # verification held back until the run is seen waiting
        gate.wait(10)
        return real(folder, rels)

    monkeypatch.setattr(dataset, "_verify_chunk", slow_chunk)
    store = Store()
    run_id = runner.start_trial_in_background(
        TrialConfig(dataset=str(root), loader="tfdata_map_batch", epochs=1),
        store,
        allowed_roots=[tmp_path],
    )
    waiting = store.get_run(run_id)
    assert waiting["status"] == "queued"
    assert waiting["scan_progress"]["total"] == 41 and not waiting["scan_progress"]["finished"]
    assert waiting["scan"]["num_files"] == 41 and "files" not in waiting["scan"]
    gate.set()
    assert runner.join_background(run_id, timeout=30)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    assert run["scan_progress"]["finished"] and run["scan_progress"]["done"] == 41
    assert run["scan"]["num_images"] == 40 and [b["path"] for b in run["scan"]["bad_files"]] == [
        "c1/broken.png"
    ]
    assert "SKIP" in run["snippet"]


def test_background_run_on_a_folder_its_loader_cannot_read_fails_with_the_reason(
    tmp_path: Path, diag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "ds", 10)
    (root / "c1" / "broken.png").write_bytes(b"not a png at all")
    gate = __import__("threading").Event()
    real = dataset._verify_chunk
    monkeypatch.setattr(dataset, "_verify_chunk", lambda folder, rels: gate.wait(10) and real(folder, rels))
    store = Store()
    config = TrialConfig(dataset=str(root), loader="keras_directory", epochs=1)
    run_id = runner.start_trial_in_background(config, store, allowed_roots=[tmp_path])
    gate.set()
    assert runner.join_background(run_id, timeout=30)
    run = store.get_run(run_id)
    assert run["status"] == "failed" and "cannot skip the unreadable ones: c1/broken.png" in run["error"]
