"""The dashboard in headless Chromium: a real trial from the browser, then every page.

One Streamlit server per module (tests/e2e/conftest.py); tests run in file order and share it
(the trial's run is what Compare and History show). Screenshots go to screenshots/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import run_small_trial

pytestmark = pytest.mark.browser


def test_a_first_visit_straight_to_a_page_gets_the_app_navigation(browser, server):
    # First test of the module: the server has not run app.py yet.
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server + "/history")
    expect(page.get_by_role("heading", name="History", exact=True)).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Compare")).to_be_visible()
    expect(nav.get_by_role("link", name="views")).to_have_count(0)  # the legacy list of every file
    expect(page.get_by_test_id("stSidebar").get_by_text("Store:")).to_be_visible()
    context.close()


@pytest.mark.tf
def test_real_trial_from_the_browser_shows_figure_and_findings(page, shot):
    expect(page.get_by_role("heading", name="Run a trial")).to_be_visible()
    run_small_trial(page, epochs=2)
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible()
    expect(chart.get_by_text("RSS total")).to_be_visible()
    expect(chart.get_by_text("seconds since ready (s)")).to_be_visible()
    expect(page.get_by_role("heading", name="Findings")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Peak RSS")).to_be_visible()
    shot(page, "run")


@pytest.mark.parametrize(
    ("link", "heading"),
    [
        ("Run", "Run a trial"),
        ("Scenarios", "Scenarios"),
        ("Compare", "Compare runs"),
        ("Sweep", "Sweep"),
        ("History", "History"),
        ("Dataset", "Dataset"),
    ],
)
def test_every_page_opens(page, shot, link, heading):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    shot(page, f"page-{link.lower()}")


def test_dataset_page_charts_the_scan(page):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Dataset").click()
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts.first).to_be_visible()
    expect(page.get_by_text("Files per class")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Readable images")).to_contain_text("550")
