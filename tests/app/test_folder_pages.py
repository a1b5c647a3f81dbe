"""Run and Dataset pages on real folders (issue 12): listing at once, verification in the background.

Verification is held on an Event (the job's thread calls ``dataset.verify``) so each test sees the
page while it is still running, then lets it finish. Calls to ``list_folder`` and ``verify`` are
counted: changing image size, dtype or loader must not list or verify again.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from diagnostics import dataset, views
from diagnostics.dataset import verification
from diagnostics.store import Store
from diagnostics.units import format_bytes
from tests.app.test_pages_smoke import FAKE_WORKER, REPO, SAMPLE_DATA, app_at
from tests.e2e.folders import make_image_folder
from tests.image_folders import BROKEN_FOLDER_COUNTS, make_broken_folder


@pytest.fixture
def calls(monkeypatch):
    """Count list_folder/verify calls; verify waits until ``calls['release']`` is set."""
    counts = {"list_folder": 0, "verify": 0, "release": threading.Event()}
    list_folder, verify = dataset.list_folder, dataset.verify

    def counted_list(folder):
        counts["list_folder"] += 1
        return list_folder(folder)

    def held_verify(listing, **kwargs):
        counts["verify"] += 1
        assert counts["release"].wait(30), "test never released verification"
        return verify(listing, **kwargs)

    monkeypatch.setattr(verification, "list_folder", counted_list)
    monkeypatch.setattr(verification, "verify", held_verify)
    yield counts
    counts["release"].set()


@pytest.fixture
def roots(tmp_path, monkeypatch) -> Path:
    """DIAG_DATA_ROOTS = one root holding two datasets a few levels down (sample_data not allowed)."""
    root = tmp_path / "data"
    make_image_folder(root / "team" / "flowers", 300, classes=3, size=32)
    make_image_folder(root / "team" / "archive" / "birds", 40, classes=2, size=32)
    (root / "team" / "flowers" / "class_01" / "notes.txt").write_text("not an image")
    (root / "team" / "flowers" / "class_02" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    monkeypatch.setenv("DIAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DIAG_DATA_ROOTS", str(root))
    monkeypatch.chdir(REPO)
    return root


def texts(at: AppTest) -> str:
    return "\n".join(e.value for e in [*at.caption, *at.markdown, *at.info])


def progress_texts(at: AppTest) -> list[str]:
    return [p.proto.text for p in at.get("progress")]


def test_no_folder_is_listed_until_picked_and_roots_offer_their_datasets(roots, calls):
    at = app_at("pages/run.py")
    picker = at.selectbox(key="run_choice")
    assert picker.value is None  # never the root itself, and sample_data is not allowed here
    flowers, birds = str(roots / "team" / "flowers"), str(roots / "team" / "archive" / "birds")
    assert set(picker.options) == {flowers, birds, "Other folder…"}
    assert calls["list_folder"] == 0 and calls["verify"] == 0
    assert "Pick a dataset folder" in texts(at)
    assert at.button(key="run_start").disabled


def test_listing_shows_at_once_and_option_changes_never_rescan(roots, calls):
    flowers = str(roots / "team" / "flowers")
    at = app_at("pages/run.py")
    at.selectbox(key="run_choice").set_value(flowers).run()
    assert not at.exception, [e.message for e in at.exception]
    # Verification is still held, yet the listing and the progress are on the page.
    assert "302 files in 3 classes" in texts(at)  # every file, readable or not (folder_counts)
    (progress,) = progress_texts(at)
    assert "Verifying file contents: 1 / 302" in progress  # notes.txt is decided by its name
    assert "1 unreadable so far" in progress  # notes.txt, known by its name
    assert not at.button(key="run_start").disabled
    assert "notes.txt" in texts(at)
    assert calls["list_folder"] == 1 and calls["verify"] == 1

    at.number_input(key="run_h").set_value(64).run()
    loader = at.selectbox(key="run_loader").value
    at.selectbox(key=f"run_{loader}_dtype").set_value("uint8").run()
    decoded = format_bytes(dataset.decoded_bytes((64, 128), "rgb", "uint8"))
    assert f"Decoded {decoded} per image" in texts(at)
    at.selectbox(key="run_loader").set_value("keras_directory").run()
    assert not at.exception, [e.message for e in at.exception]
    assert calls["list_folder"] == 1 and calls["verify"] == 1

    calls["release"].set()
    job = dataset.start_verification(flowers)
    job.result(timeout=30)
    at.run()
    assert not progress_texts(at)  # the bar is gone once verification ends
    assert "Verified 302 files: 300 readable, 2 unreadable." in texts(at)
    assert "broken.jpg" in texts(at)


def test_the_last_folder_used_is_the_next_sessions_default(roots, calls, tmp_path):
    birds = str(roots / "team" / "archive" / "birds")
    at = app_at("pages/dataset.py")
    at.selectbox(key="ds_choice").set_value(birds).run()
    assert (tmp_path / "home" / "last_folder").read_text().strip() == birds
    calls["release"].set()

    at = app_at("pages/run.py")  # a new session
    assert at.selectbox(key="run_choice").value == birds
    assert "40 files in 2 classes" in texts(at)


def test_dataset_page_lists_first_then_shows_the_verified_figures(roots, calls):
    at = app_at("pages/dataset.py")
    at.selectbox(key="ds_choice").set_value(str(roots / "team" / "flowers")).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Image files (listed)"] == "301"
    assert metrics["Unreadable so far"] == "1"
    assert any("appear when verification ends" in i.value for i in at.info)

    calls["release"].set()
    dataset.start_verification(str(roots / "team" / "flowers")).result(timeout=30)
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Readable images"] == "300"
    assert metrics["Unreadable files"] == "2"
    assert {"broken.jpg", "notes.txt"} <= {Path(p).name for p in at.dataframe[-1].value["path"]}


def test_sample_data_is_the_default_when_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("DIAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DIAG_DATA_ROOTS", f"{SAMPLE_DATA}:{tmp_path}")
    monkeypatch.chdir(REPO)
    at = app_at("pages/run.py")
    assert at.selectbox(key="run_choice").value == str(SAMPLE_DATA)
    assert "550 files in 5 classes" in texts(at)


def test_a_trial_started_before_verification_ends_waits_for_it_with_progress(roots, calls, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE_WORKER))
    flowers = str(roots / "team" / "flowers")
    at = app_at("pages/run.py")
    at.selectbox(key="run_choice").set_value(flowers).run()
    at.selectbox(key="run_loader").set_value("tfdata_map_batch").run()
    assert views.dataset.WAIT_FOR_VERIFICATION in texts(at)
    assert "Empty = whole epochs: the full folder (301 images, 10 steps)" in texts(at)
    at.button(key="run_start").click().run()
    assert not at.exception, [e.message for e in at.exception]
    store = Store()
    run_id = int(store.list_runs()["id"].iloc[0])
    assert store.get_run(run_id)["status"] == "queued"
    assert any(t.startswith("Waiting for the folder's verification") for t in progress_texts(at))
    assert calls["verify"] == 1  # the runner waits on the page's job, it does not verify again

    calls["release"].set()
    deadline = time.monotonic() + 60
    while store.get_run(run_id)["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run.get("error")
    assert run["scan"]["bad_files_total"] == 2 and run["scan"]["num_images"] == 300
    at.run()
    assert any(f"Run #{run_id}" in m.value and "Completed" in m.value for m in at.markdown)


def test_a_broken_files_folder_has_one_count_on_the_dataset_page(tmp_path, monkeypatch):
    """Issue 18 item 12: '37 images (broken 13, good 24)', 'Readable 32', 'Unreadable 7' and a class
    chart with broken = 8 on one page. Every number now comes from dataset.folder_counts."""
    root = tmp_path / "data"
    folder = make_broken_folder(root / "broken_files")
    monkeypatch.setenv("DIAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DIAG_DATA_ROOTS", str(root))
    monkeypatch.chdir(REPO)
    expected = BROKEN_FOLDER_COUNTS
    dataset.start_verification(str(folder)).result(timeout=60)
    at = app_at("pages/dataset.py")
    at.selectbox(key="ds_choice").set_value(str(folder)).run()
    assert not at.exception, [e.message for e in at.exception]
    shown = texts(at)
    assert "39 files in 2 classes (broken 15, good 24)" in shown, shown
    assert "Verified 39 files: 32 readable, 7 unreadable." in shown, shown
    assert "37 images" not in shown
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Readable images"] == str(expected["readable"])
    assert metrics["Unreadable files"] == str(expected["unreadable"])
    table = dict(at.dataframe[0].value.itertuples(index=False))
    assert (table["Files"], table["Readable images"], table["Unreadable files"]) == ("39", "32", "7")
    (classes,) = [
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if json.loads(c.proto.spec)["layout"].get("title", {}).get("text") == "Files per class"
    ]
    bars = {trace["name"]: dict(zip(trace["x"], trace["y"], strict=True)) for trace in classes["data"][:2]}
    assert bars == {"readable": {"broken": 8, "good": 24}, "unreadable": {"broken": 7, "good": 0}}
    assert len(at.dataframe[-1].value) == expected["unreadable"]  # the unreadable files, each named
