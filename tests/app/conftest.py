"""Fixtures of the AppTest layer: every run goes through app.py's navigation (the private store,
``home``, is in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch):
    """Run every AppTest run the way a warm server runs: through app.py's st.navigation.

    AppTest resets Streamlit's legacy ``pages/`` flag before each run, so each run would first take
    the legacy path that pages/_common.py redirects with a rerun, and that rerun drops button
    clicks. A real server clears the flag once, at its first st.navigation call; the browser test
    covers that first visit.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
