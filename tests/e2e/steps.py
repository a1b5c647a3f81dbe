"""Steps the browser tests share: numbers typed into the Run form, a trial run to its end."""

from __future__ import annotations

import re

from playwright.sync_api import expect

FINISHED = re.compile("Completed|Failed|Killed|Timed out|Cancelled|Interrupted")


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def run_small_trial(page, epochs: int) -> None:
    """Set epochs and 64x64 images on the Run form (sample_data), press Run, wait for Completed."""
    set_number(page, "Epochs", epochs)
    set_number(page, "Image height (px)", 64)
    set_number(page, "Image width (px)", 64)
    expect(page.get_by_text("550 files in 5 classes", exact=False)).to_be_visible()
    page.get_by_role("button", name="Run", exact=True).click()
    status = page.get_by_test_id("stMarkdown").filter(has_text=re.compile(r"Run #\d+ ·"))
    expect(status.filter(has_text=FINISHED).first).to_be_visible(timeout=180_000)
    expect(status.first).to_contain_text("Completed")
