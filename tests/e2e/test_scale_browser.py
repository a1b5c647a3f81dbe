"""A 10k-image folder in the browser (issue 12): the Run page never blocks on it.

Its own server: the only dataset root holds a generated 10,000-JPEG folder (small images, made in
tmp in a few seconds), and trials run on the FakeWorker with slow epochs, so a run is still live
when the page reloads. Times are measured from the user's action to the page being usable again:
the expected text shown and Streamlit's running indicator (stStatusWidget, which appears after
about 0.6 s of a script run) gone. On main's pages the same measure gave 2.8-3.3 s per image-size
change on this folder (a full rescan each time).
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import REPO, SHOTS, streamlit_server
from tests.e2e.folders import make_image_folder

pytestmark = pytest.mark.browser

IMAGES = 10_000
USABLE_SECONDS = 2.0
RELOAD_SECONDS = 5.0


@pytest.fixture(scope="module")
def big_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("roots")
    make_image_folder(root / "team" / "big10k", IMAGES, classes=10, size=128)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory, big_root):
    yield from streamlit_server(
        tmp_path_factory.mktemp("diag_home"),
        DIAG_DATA_ROOTS=str(big_root),
        DIAG_TEST_WORKER=str(REPO / "tests" / "fakes" / "fake_worker.py"),
        FAKE_EPOCH_SECONDS="6",
    )


def usable_after(page, action, expected) -> float:
    """Seconds from ``action()`` until ``expected`` is visible and no script run is in progress."""
    start = time.monotonic()
    action()
    expect(expected).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)
    return time.monotonic() - start


def choose(page, label: str, option: str | re.Pattern) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.get_by_role("option", name=option).click()


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def test_big_folder_listing_at_once_and_option_changes_stay_usable(page, big_root, record_property):
    folder = str(big_root / "team" / "big10k")
    expect(page.get_by_role("heading", name="Run a trial")).to_be_visible()
    # No folder is listed until picked: the root is never the default.
    expect(page.get_by_text("Pick a dataset folder to list it.")).to_be_visible()

    listed = page.get_by_text(f"{IMAGES:,} files in 10 classes", exact=False)
    seconds = usable_after(page, lambda: choose(page, "Dataset folder", folder), listed)
    progress = page.get_by_test_id("stProgress").filter(has_text="Verifying file contents")
    expect(progress).to_be_visible()
    # The progress sits at the top, next to the picker: inside the first screen.
    box = progress.bounding_box()
    assert box is not None and box["y"] + box["height"] < page.viewport_size["height"], box
    # Screenshot once the first chunks are counted (the bar moving), if verification is not done yet.
    for _ in range(60):
        texts = progress.all_inner_texts()  # no waiting: the bar may go between two calls
        text = texts[0] if texts else ""
        if not text or not re.search(r"\b0 / 10,000", text):
            break
        page.wait_for_timeout(50)
    page.wait_for_timeout(400)  # the bar's width animates towards the new value
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "scale-run-verifying.png"))
    record_property("listing_seconds", round(seconds, 2))

    timings = {}
    decoded = page.get_by_text(re.compile(r"Decoded 96\.0 KiB per image"))
    timings["image size"] = usable_after(page, lambda: set_number(page, "Image height (px)", 64), decoded)
    decoded = page.get_by_text(re.compile(r"Decoded 24\.0 KiB per image"))
    timings["dtype"] = usable_after(page, lambda: choose(page, "Dtype", "uint8"), decoded)
    steps_note = page.get_by_text(re.compile(r"Empty = \d+ steps per epoch"))
    timings["loader"] = usable_after(
        page, lambda: choose(page, "Loader", re.compile("^tfdata_map_batch")), steps_note
    )
    for name, value in timings.items():
        record_property(f"{name}_seconds", round(value, 2))
    print("listing", round(seconds, 2), {k: round(v, 2) for k, v in timings.items()})
    assert all(value < USABLE_SECONDS for value in timings.values()), timings

    # Verification ends on its own; the bar gives way to the verified count.
    expect(page.get_by_text(f"Verified {IMAGES:,} files: none unreadable.")).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("stProgress")).to_have_count(0)


def test_a_reload_mid_run_shows_the_live_run_within_5_s(page, server, record_property):
    expect(page.get_by_text(f"{IMAGES:,} files in 10 classes", exact=False)).to_be_visible()  # last folder
    choose(page, "Loader", re.compile("^tfdata_map_batch"))
    page.get_by_role("button", name="Run", exact=True).click()
    status = page.get_by_test_id("stMarkdown").filter(has_text=re.compile(r"Run #\d+ · Running"))
    expect(status.first).to_be_visible(timeout=60_000)

    start = time.monotonic()
    page.reload()
    expect(status.first).to_be_visible(timeout=30_000)
    seconds = time.monotonic() - start
    expect(page.get_by_test_id("stProgress").filter(has_text=re.compile(r"Epoch \d/3"))).to_be_visible()
    record_property("reload_seconds", round(seconds, 2))
    print("reload", round(seconds, 2))
    assert seconds < RELOAD_SECONDS
