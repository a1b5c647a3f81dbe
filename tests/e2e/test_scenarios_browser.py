"""The Scenarios page in headless Chromium: pick a question, run it for real, read the verdict.

Its own Streamlit server (free port, private DIAG_HOME, sample_data as the only root), so it does not
depend on the order of the other browser tests.
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

pytestmark = [pytest.mark.browser, pytest.mark.tf]

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("scenario_home")
    port = _free_port()
    env = {
        **os.environ,
        "DIAG_HOME": str(home),
        "DIAG_DATA_ROOTS": str(REPO / "sample_data"),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    env.pop("DIAG_TEST_WORKER", None)  # real TensorFlow workers
    log = open(home / "streamlit.log", "w")  # noqa: SIM115 - closed in teardown
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
            "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
        ],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
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


@pytest.fixture
def page(server):
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(server)
        expect(page.get_by_test_id("stApp")).to_be_visible()
        yield page
        context.close()
        browser.close()


def test_run_decode_order_from_the_scenarios_page(page, server):
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

    SHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(800)
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height) + 40)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "page-scenarios.png"))
