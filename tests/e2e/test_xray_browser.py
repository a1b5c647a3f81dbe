"""The Pipeline X-ray in headless Chromium: a real cache + shuffle trial, then the stacked chart.

Its own Streamlit server (tests/e2e/conftest.py: one per module) running the real worker with the
probe. Screenshot: screenshots/xray-run.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import run_small_trial, set_number

pytestmark = [pytest.mark.browser, pytest.mark.tf]


def pick(page, label: str, option: str | re.Pattern) -> None:
    # By the exact label: the loader's description mentions "cache" too.
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    # While a rerun draws the new option form, the old one stays in the page until it is replaced.
    expect(box).to_have_count(1)
    box.click()
    page.get_by_role("option", name=option).click()
    expect(box.get_by_role("combobox")).to_have_value(option)


def test_cache_and_shuffle_trial_shows_the_stacked_attribution(page, shot):
    expect(page.get_by_role("heading", name="Run a trial")).to_be_visible()
    pick(page, "Loader", re.compile(r"^tfdata_map_batch:"))
    # The option form follows the loader (keras_directory has no shuffle buffer): wait for it, or
    # the next pick lands on the old form's Cache box.
    expect(page.get_by_label("Shuffle buffer", exact=True)).to_be_visible()
    pick(page, "Cache", "memory")
    page.get_by_test_id("stCheckbox").filter(has=page.get_by_text("Shuffle", exact=True)).click()
    expect(page.get_by_role("checkbox", name="Shuffle", exact=True)).to_be_checked()
    set_number(page, "Shuffle buffer", 300)
    run_small_trial(page, epochs=3)

    # The finished view (findings) replaces the live one; then the chart is there once.
    expect(page.get_by_role("heading", name="Findings")).to_be_visible()
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text="Memory above baseline, by component")
    expect(chart).to_have_count(1)
    expect(chart).to_be_visible()
    legend = chart.locator(".legend")
    expect(legend.get_by_text("unattributed", exact=True)).to_be_visible()
    # The shuffle buffer after a cache holds references to the cached tensors (0 bytes of its own),
    # so the cache is the stage that must show.
    expect(legend.get_by_text("in-memory cache", exact=True)).to_be_visible()
    expect(chart.get_by_text("memory above baseline (MiB)")).to_be_visible()
    expect(page.get_by_role("heading", name="Pipeline stages")).to_be_visible()
    expect(page.get_by_text("The slowest stage is")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    shot(page, "xray-run")
