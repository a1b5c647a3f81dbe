"""DNS rebinding against a real server: a foreign Host gets no page, no websocket, no store path.

The server runs as ``make run`` does (``streamlit run serve.py``) with ``demo.example`` added in
DIAG_ALLOWED_HOSTS. Chromium is told that evil.example and demo.example are 127.0.0.1, which is
what a rebinding attacker's DNS does; a second server runs plain ``streamlit run app.py`` to check
that the script itself shows a foreign Host nothing.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, streamlit_server

pytestmark = pytest.mark.browser

SHOTS = "/work/truth/shots"
PATHS = ["/", "/history", "/dataset", "/_stcore/health", "/_stcore/host-config"]
WEBSOCKET = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("diag_home")


@pytest.fixture(scope="module")
def served(home):
    yield from streamlit_server(home, DIAG_ALLOWED_HOSTS="demo.example")


@pytest.fixture(scope="module")
def rebinding_browser():
    with sync_playwright() as p:
        rules = "--host-resolver-rules=MAP evil.example 127.0.0.1, MAP demo.example 127.0.0.1"
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rules])
        yield chromium
        chromium.close()


def _get(url: str, path: str, host: str, headers: dict[str, str] | None = None):
    port = urlsplit(url).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": f"{host}:{port}", **(headers or {})})
    response = connection.getresponse()
    body = response.read() if response.status != 101 else b""
    connection.close()
    return response.status, body.decode("utf-8", "replace")


@pytest.mark.parametrize("path", PATHS)
def test_a_foreign_host_gets_403_and_nothing_of_the_store(served, home, path):
    status, body = _get(served, path, "evil.example")
    assert status == 403, body[:200]
    assert "Refused" in body
    assert str(home) not in body


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "demo.example"])
def test_the_loopback_names_and_a_listed_host_are_served(served, host):
    assert _get(served, "/history", host)[0] == 200


def test_a_websocket_with_a_foreign_host_and_origin_is_refused(served):
    origin = {"Origin": f"http://evil.example:{urlsplit(served).port}"}
    status, body = _get(served, "/_stcore/stream", "evil.example", {**WEBSOCKET, **origin})
    assert status == 403
    assert _get(served, "/_stcore/stream", "127.0.0.1", WEBSOCKET)[0] == 101


def test_a_rebound_name_in_the_browser_is_refused_the_normal_one_served(served, home, rebinding_browser):
    context = rebinding_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    port = urlsplit(served).port
    response = page.goto(f"http://evil.example:{port}/history")
    assert response.status == 403
    expect(page.get_by_text("Refused: this dashboard answers only to localhost")).to_be_visible()
    assert str(home) not in page.content()
    page.screenshot(path=f"{SHOTS}/web22-refused-host.png")

    page.goto(f"{served}/history")
    expect(page.get_by_role("heading", name="History", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text(str(home))).to_be_visible()
    context.close()


def test_plain_streamlit_run_app_shows_a_foreign_host_nothing(tmp_path, rebinding_browser):
    # Without serve.py the page and websocket are Streamlit's own; app.py stops before the sidebar.
    for url in streamlit_server(tmp_path, script="app.py"):
        port = urlsplit(url).port
        context = rebinding_browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.goto(f"http://evil.example:{port}/history")
        expect(page.get_by_text("Refused: this dashboard answers only to localhost")).to_be_visible()
        page.wait_for_timeout(1500)  # anything the script would still render
        assert str(tmp_path) not in page.content()
        expect(page.get_by_text("Store:")).to_have_count(0)
        expect(page.get_by_role("heading", name="History")).to_have_count(0)
        page.screenshot(path=f"{SHOTS}/web22-refused-host-app-py.png")
        page.goto(f"{url}/history")
        expect(page.get_by_test_id("stSidebar").get_by_text(str(tmp_path))).to_be_visible()
        context.close()
