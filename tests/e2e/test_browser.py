"""The dashboard in headless Chromium: a real trial from the browser, then every page.

One Streamlit server per module, on a free port with its own DIAG_HOME; tests run in file order
and share it (the trial's run is what Compare and History show). Screenshots go to screenshots/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect
expect.set_options(timeout=20_000)  # the machine is shared: first renders can take seconds

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "screenshots"
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}
FINISHED = re.compile("Completed|Failed|Killed|Timed out|Cancelled|Interrupted")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("diag_home")
    port = _free_port()
    env = {
        **os.environ,
        "DIAG_HOME": str(home),
        "DIAG_DATA_ROOTS": str(REPO / "sample_data"),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    env.pop("DIAG_TEST_WORKER", None)  # the browser test runs the real worker
    log = open(home / "streamlit.log", "w")  # noqa: SIM115 - closed in teardown
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"streamlit did not start: {(home / 'streamlit.log').read_text()[-2000:]}")
        time.sleep(0.3)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server)
    expect(page.get_by_test_id("stApp")).to_be_visible()
    yield page
    context.close()


def shot(page, name: str) -> None:
    """Screenshot the whole page: Streamlit scrolls inside stMain, so grow the viewport to fit."""
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_load_state("networkidle")
    for chart in page.get_by_test_id("stPlotlyChart").all():
        expect(chart.locator(".main-svg").first).to_be_attached()
    page.wait_for_timeout(800)  # plotly transitions, dataframe canvas
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height) + 40)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(VIEWPORT)


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def test_a_first_visit_straight_to_a_page_gets_the_app_navigation(browser, server):
    # First test of the module: the server has not run app.py yet.
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(server + "/history")
    expect(page.get_by_role("heading", name="History", exact=True)).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Compare")).to_be_visible()
    expect(nav.get_by_role("link", name="views")).to_have_count(0)  # the legacy list of every file
    expect(page.get_by_test_id("stSidebar").get_by_text("Store:")).to_be_visible()
    context.close()


@pytest.mark.tf
def test_real_trial_from_the_browser_shows_figure_and_findings(page):
    expect(page.get_by_role("heading", name="Run a trial")).to_be_visible()
    set_number(page, "Epochs", 2)
    set_number(page, "Image height (px)", 64)
    set_number(page, "Image width (px)", 64)
    expect(page.get_by_text("550 images in 5 classes", exact=False)).to_be_visible()
    page.get_by_role("button", name="Run", exact=True).click()
    status = page.get_by_test_id("stMarkdown").filter(has_text=re.compile(r"Run #\d+ ·"))
    expect(status.filter(has_text=FINISHED).first).to_be_visible(timeout=180_000)
    expect(status.first).to_contain_text("Completed")
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
        ("Compare", "Compare runs"),
        ("Sweep", "Sweep"),
        ("History", "History"),
        ("Dataset", "Dataset"),
    ],
)
def test_every_page_opens(page, link, heading):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    shot(page, f"page-{link.lower()}")


def test_dataset_page_charts_the_scan(page):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Dataset").click()
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts.first).to_be_visible()
    expect(page.get_by_text("Images per class")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Readable images")).to_contain_text("550")
