"""The dashboard as an ASGI app: app.py behind the Host check (``make run``: ``streamlit run serve.py``).

``streamlit run`` finds ``app`` here and serves it with uvicorn under the usual ``--server.*``
options; every HTTP request and websocket passes ``host_check.refuse_foreign_hosts`` first, so a
page reached through a rebound DNS name gets 403 and no websocket (docs: README, "Serving a team
demo safely").
"""

from __future__ import annotations

from starlette.middleware import Middleware
from streamlit import config
from streamlit.starlette import App

from diagnostics.host_check import allowed_hosts, refuse_foreign_hosts

__all__ = ["app"]


def _allowed() -> frozenset[str]:
    return allowed_hosts(config.get_option("server.address"))


app = App("app.py", middleware=[Middleware(refuse_foreign_hosts, allowed=_allowed)])
