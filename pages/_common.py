"""Streamlit helpers shared by the pages: the store, error display, dataset and option forms.

Pages import this module; it is not a page itself (``app.py`` lists the pages explicitly).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any

import streamlit as st

from diagnostics import form, views
from diagnostics.config import dashboard_text
from diagnostics.errors import DiagnosticsError
from diagnostics.executors import Executor, get_executor
from diagnostics.recover import recover_interrupted
from diagnostics.store import Store
from pages._folders import dataset_picker  # noqa: F401  (pages import the picker from here)


@st.cache_resource(show_spinner=False)
def _store_for(home: str) -> Store:
    store = Store(home)
    # Once per server process and store: runs left "running" by a dead runner become interrupted.
    recover_interrupted(store)
    return store


def get_store() -> Store:
    """The Store of this DIAG_HOME (one per server process; connections are per thread)."""
    from diagnostics.store import diag_home

    return _store_for(str(diag_home().resolve()))


@contextmanager
def user_errors():
    """Show a DiagnosticsError as st.error with its message, never a traceback."""
    try:
        yield
    except DiagnosticsError as exc:
        st.error(dashboard_text(exc.args[0]) if exc.args else type(exc).__name__, icon=":material/error:")


def plot(fig: Any, key: str | None = None) -> None:
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


def option_widget(name: str, kind: str, label: str, help_text: str, key: str) -> Any:
    widget, kwargs = form.widget_spec(name, kind)  # no min/max: form.option_problems checks
    return form.option_value(kind, getattr(st, widget)(label, help=help_text, key=key, **kwargs))


def loader_options_form(loader_name: str, prefix: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Widgets for the options this loader accepts, three per row; returns changed values only."""
    from diagnostics.loaders import get_loader

    specs = [s for s in form.applicable_specs(get_loader(loader_name).options) if s[0] not in skip]
    values: dict[str, Any] = {}
    for row in form.in_rows(specs, 3):
        for column, (name, kind, label, help_text) in zip(st.columns(3), row, strict=False):
            with column:
                values[name] = option_widget(
                    name, kind, label, help_text, key=f"{prefix}_{loader_name}_{name}"
                )
    return form.changed_options(values)


def limits_form(prefix: str, budget_help: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Memory budget (MiB) and timeout (s): (TrialConfig fields, problems naming the field).

    Empty means the defaults (80% of free RAM, no limit); no min/max on the widgets, so an
    out-of-range value is a problem that refuses the run instead of a value Streamlit replaced.
    """
    raw = {}
    for column, (field, spec) in zip(st.columns(2), form.LIMIT_INPUTS.items(), strict=True):
        spec = {**spec, "help": budget_help} if field == "budget" and budget_help else spec
        raw[field] = column.number_input(form.label(field), value=None, key=f"{prefix}_{field}", **spec)
    found = form.problems(raw)
    return ({} if found else form.limit_overrides(budget_mib=raw["budget"], timeout_s=raw["timeout"])), found


def run_choices(store: Store, statuses: tuple[str, ...] | None = None) -> dict[int, str]:
    """{run id: label} newest first, for pickers."""
    return views.common.run_choices(store.list_runs(), statuses)


def _through_app() -> None:
    """Make sure this page runs inside app.py's st.navigation, never on its own.

    Streamlit treats a ``pages/`` folder beside the entry script as the legacy multipage layout
    until the server process first meets ``st.navigation``: a first visit straight to /dataset
    would run that page alone (no sidebar, a navigation listing every file). Clearing the legacy
    flag and rerunning sends the same URL through app.py. Internal API, hence the guard.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_header(title: str, caption: str) -> None:
    _through_app()
    st.title(title)
    st.caption(caption)


@st.cache_data(ttl=30, show_spinner="Asking the Ray cluster for its trial slots…")
def ray_offer(address: str) -> tuple[int | None, str | None]:
    from diagnostics.executors.ray import cluster_offer

    return cluster_offer(address)


def where_trials_run() -> tuple[Executor, int | None]:
    """(executor, trial slots): this machine, or the Ray cluster at DIAG_RAY_ADDRESS, offered only
    when it is set; an unreachable cluster is said, and the trials run here."""
    address = os.environ.get("DIAG_RAY_ADDRESS")
    if not address:
        return get_executor("local"), None
    slots, problem = ray_offer(address)
    if problem:
        st.warning(f"{problem}: trials run on this machine.", icon=":material/cloud_off:")
        return get_executor("local"), None
    choice = st.radio(
        "Run the trials",
        ["local", "ray"],
        format_func={
            "local": "On this machine, one after another",
            "ray": f"On the Ray cluster at {address}: {slots} trial slot(s), one trial per node",
        }.get,
        key="sweep_executor",
        horizontal=True,
    )
    return get_executor(choice, address), (slots if choice == "ray" else None)
