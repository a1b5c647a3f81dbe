"""The Scenarios page in headless Chromium: pick a question, run it for real, read the verdict.

Its own Streamlit server (tests/e2e/conftest.py: one per module), so it does not depend on the order
of the other browser tests.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.tf]


def test_run_decode_order_from_the_scenarios_page(page, server, shot):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Scenarios").click()
    expect(page.get_by_role("heading", name="Scenarios", exact=True)).to_be_visible()
    expect(page.get_by_text("No scenario has run yet")).to_be_visible()

    page.get_by_test_id("stSelectbox").filter(has_text="Question").click()
    page.get_by_role("option", name=re.compile(r"\(decode_order\)")).click()
    expect(page.get_by_text("steady images/s ratio and peak RSS difference")).to_be_visible()
    page.get_by_role("button", name="Run scenario").click()

    verdict = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Verdict.")
    expect(verdict).to_be_visible(timeout=240_000)
    expect(verdict).to_contain_text(re.compile(r"was fastest: [\d,]+ images/s"))
    expect(verdict).to_contain_text("Python loop (eager)")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts.first.get_by_text("seconds since ready (s)")).to_be_visible()
    expect(charts.nth(1).get_by_text("Throughput per epoch")).to_be_visible()
    expect(page.get_by_text("The better pipeline:")).to_be_visible()
    expect(page.get_by_test_id("stCode").first).to_be_visible()
    expect(page.get_by_role("button", name="Download HTML report of this scenario")).to_be_visible()

    # A reload (a second browser tab alike) finds the finished scenario in the store.
    page.goto(server + "/scenarios")
    expect(page.get_by_test_id("stAlertContentSuccess").filter(has_text="Verdict.")).to_be_visible()

    shot(page, "scenario-verdict")
