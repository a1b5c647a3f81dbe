"""Browser-test fixtures: a Streamlit server per test module and Debian's Chromium.

Each module that uses ``server`` gets its own server on a free port with its own DIAG_HOME and
sample_data as the only dataset root, running the real worker. Screenshots go to screenshots/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "screenshots"
# Playwright cannot download its own browser here: Debian's chromium, with the flags that keep it
# off the (closed) network.
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

expect.set_options(timeout=20_000)  # the machine is shared: first renders can take seconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from streamlit_server(tmp_path_factory.mktemp("diag_home"))


def streamlit_server(home: Path, script: str = "serve.py", **env_overrides: str):
    """Start ``streamlit run serve.py`` (app.py behind the Host check; ``script`` says otherwise)
    with this DIAG_HOME; yield its URL; stop it afterwards.

    ``env_overrides`` replace the defaults (sample_data as the only root, the real worker).
    """
    port = _free_port()
    env = {
        **os.environ,
        "DIAG_HOME": str(home),
        "DIAG_DATA_ROOTS": str(REPO / "sample_data"),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    env.pop("DIAG_TEST_WORKER", None)  # browser tests run the real worker unless told otherwise
    env.update(env_overrides)
    log = open(home / "streamlit.log", "w")  # noqa: SIM115 - closed in teardown
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
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


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
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


@pytest.fixture
def shot():
    def take(page, name: str) -> None:
        """Screenshot the whole page: Streamlit scrolls inside stMain, so grow the viewport to fit."""
        SHOTS.mkdir(exist_ok=True)
        page.wait_for_load_state("networkidle")
        for chart in page.get_by_test_id("stPlotlyChart").all():
            expect(chart.locator(".main-svg").first).to_be_attached()
        page.wait_for_timeout(800)  # plotly transitions, dataframe canvas
        height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
        page.set_viewport_size(
            {"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height) + 40)}
        )
        page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / f"{name}.png"))
        page.set_viewport_size(VIEWPORT)

    return take
