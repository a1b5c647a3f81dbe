"""host_check: which Host headers the dashboard answers to (the server test is tests/e2e/test_hosts_browser.py)."""

from __future__ import annotations

import pytest

from diagnostics.host_check import allowed_hosts, host_is_allowed


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8501", "LOCALHOST.:8501", "127.0.0.1:8501", "[::1]:8501"]
)
def test_the_loopback_names_are_allowed_with_or_without_a_port(host):
    assert host_is_allowed(host, allowed_hosts("127.0.0.1", environ={}))


@pytest.mark.parametrize(
    "host",
    [None, "", "evil.example:8501", "localhost.evil.example", "127.0.0.1.evil.example",
     "user@localhost", "localhost:99999", "localhost/x", "[::1"],
)  # fmt: skip
def test_foreign_or_malformed_hosts_are_refused(host):
    assert not host_is_allowed(host, allowed_hosts("127.0.0.1", environ={}))


def test_the_configured_address_and_listed_hosts_are_added_a_wildcard_bind_is_not():
    allowed = allowed_hosts("192.168.1.5", environ={"DIAG_ALLOWED_HOSTS": " Demo.Lan , 10.0.0.7:8501,"})
    assert host_is_allowed("192.168.1.5:8501", allowed)
    assert host_is_allowed("demo.lan:8501", allowed)
    assert host_is_allowed("10.0.0.7", allowed)
    assert allowed_hosts("0.0.0.0", environ={}) == allowed_hosts(None, environ={})
    assert not host_is_allowed("0.0.0.0:8501", allowed_hosts("0.0.0.0", environ={}))
