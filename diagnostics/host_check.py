"""Which ``Host`` headers the dashboard answers to: the guard against DNS rebinding.

A web page can point a name it controls (``evil.example``) at 127.0.0.1; the browser then treats
the dashboard as that page's own origin and lets its scripts read every page and open the
websocket. The ``Host`` header still says ``evil.example``, so the dashboard answers only to the
loopback names, its configured server address and the hosts the user lists in
``$DIAG_ALLOWED_HOSTS`` (comma-separated). ``refuse_foreign_hosts`` applies that to every HTTP
request and websocket before Streamlit sees it (``serve.py``); ``app.py`` checks it again so a
plain ``streamlit run app.py`` shows nothing to a foreign Host either.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ALLOWED_HOSTS_ENV",
    "LOOPBACK_HOSTS",
    "REFUSED_TEXT",
    "allowed_hosts",
    "host_is_allowed",
    "refuse_foreign_hosts",
]

ALLOWED_HOSTS_ENV = "DIAG_ALLOWED_HOSTS"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Addresses that bind every interface name no host a browser could be sent to.
_WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})

REFUSED_TEXT = (
    "Refused: this dashboard answers only to localhost, 127.0.0.1, [::1], its server address "
    f"and the hosts listed in {ALLOWED_HOSTS_ENV}. Open it through one of those, or add this "
    f"host to {ALLOWED_HOSTS_ENV} (README: Serving a team demo safely).\n"
)


def _hostname(host: str) -> str | None:
    # "127.0.0.1:8501", "[::1]:8501", "Localhost." -> the bare lower-case name; None if malformed.
    try:
        parts = urlsplit(f"//{host.strip()}")
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return None
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    return (parts.hostname or "").rstrip(".") or None


def allowed_hosts(server_address: str | None, environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    """The loopback names, ``server_address`` (unless it binds every interface) and the hosts in
    ``$DIAG_ALLOWED_HOSTS``, as bare lower-case names (ports are not compared)."""
    names = set(LOOPBACK_HOSTS)
    extra = [server_address or ""] + environ.get(ALLOWED_HOSTS_ENV, "").split(",")
    for entry in extra:
        if entry.strip() not in _WILDCARD_ADDRESSES and (name := _hostname(entry)):
            names.add(name)
    return frozenset(names)


def host_is_allowed(host: str | None, allowed: Iterable[str]) -> bool:
    """Whether a request with this ``Host`` header (None: none sent) may be answered."""
    name = _hostname(host) if host else None
    return name is not None and name in set(allowed)


def refuse_foreign_hosts(app: Callable, allowed: Callable[[], Iterable[str]]) -> Callable:
    """ASGI middleware: an HTTP request with a foreign Host gets 403 and ``REFUSED_TEXT``, a
    websocket is closed before it is accepted (the server answers 403); the rest reach ``app``.

    ``allowed`` is called per request, so the server's configuration is read once it is loaded.
    """

    async def guarded(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1") or None
            if not host_is_allowed(host, allowed()):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"x-content-type-options", b"nosniff"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": REFUSED_TEXT.encode()})
                return
        await app(scope, receive, send)

    return guarded
