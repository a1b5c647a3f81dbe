"""Dashboard entry: navigation over the pages in pages/ and the shared sidebar (store and queue)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from diagnostics import queries
from diagnostics.host_check import REFUSED_TEXT, allowed_hosts, host_is_allowed
from diagnostics.recover import recover_interrupted
from pages._common import get_store, user_errors

st.set_page_config(page_title="Training Memory Diagnostics", page_icon="🧠", layout="wide")

# serve.py already refuses a foreign Host over HTTP; this covers a plain `streamlit run app.py`, so
# a rebound name sees no store path and no run. No Host at all is no browser (AppTest, scripts).
_host = st.context.headers.get("host")
if _host is not None and not host_is_allowed(_host, allowed_hosts(st.get_option("server.address"))):
    st.error(REFUSED_TEXT)
    st.stop()

HERE = Path(__file__).parent
PAGES = [
    st.Page("pages/run.py", title="Run", icon=":material/play_arrow:", default=True),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/science:"),
    st.Page("pages/history.py", title="History", icon=":material/history:"),
    st.Page("pages/dataset.py", title="Dataset", icon=":material/photo_library:"),
]
# The Scenarios page arrives with its own issue; it joins the navigation as soon as the file exists.
if (HERE / "pages" / "scenarios.py").exists():
    PAGES.insert(1, st.Page("pages/scenarios.py", title="Scenarios", icon=":material/target:"))

page = st.navigation(PAGES)


@st.fragment(run_every=2.0)
def queue() -> None:
    # A fragment of its own, so the queue follows runs started, finished or killed elsewhere.
    with user_errors():
        store = get_store()
        st.caption(f"Store: `{store.path}`")
        lines = queries.queue_view(store)
        if lines[0][0]:
            st.markdown("**Queue**")
        for icon, text in lines:
            if icon:
                st.markdown(f"{icon} {text}")
            else:
                st.caption(text)


with st.sidebar:
    queue()

with user_errors():  # a store the pages cannot read is the same message, never a traceback
    # Once per page run, never in a refreshing fragment: the queue and live views only read, and a
    # live view that sees its run end reruns the page, which records it here.
    recover_interrupted(get_store())
    page.run()
