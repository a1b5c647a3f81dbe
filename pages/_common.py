"""Streamlit helpers shared by the pages: the store, error display, dataset and option forms.

Pages import this module; it is not a page itself (``app.py`` lists the pages explicitly).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from diagnostics import ui
from diagnostics.config import COLOR_MODES, INTERPOLATIONS, MODELS, MODES, TrialConfig
from diagnostics.errors import DiagnosticsError
from diagnostics.store import Store

DEFAULTS = TrialConfig(dataset="")
CHOICES = {
    "mode": MODES,
    "model": MODELS,
    "cache": ("none", "memory", "file"),
    "dtype": ("float32", "float16", "uint8"),
    "augmentation": ("none", "light", "heavy"),
    "color_mode": COLOR_MODES,
    "interpolation": INTERPOLATIONS,
}


@st.cache_resource(show_spinner=False)
def _store_for(home: str) -> Store:
    store = Store(home)
    # Once per server process and store: runs left "running" by a dead runner become interrupted.
    from diagnostics import runner

    runner.recover_interrupted(store)
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
        st.error(str(exc.args[0]) if exc.args else type(exc).__name__, icon=":material/error:")


def plot(fig: Any, key: str | None = None) -> None:
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


def default_dataset() -> str:
    from diagnostics.dataset import allowed_roots

    roots = allowed_roots()
    return str(roots[0]) if roots else ""


def dataset_picker(key: str = "dataset") -> str:
    """A folder under the allowed roots: pick a suggested one or type a path. Returns the text."""
    from diagnostics.dataset import allowed_roots

    roots = [str(r) for r in allowed_roots()]
    suggestions = _suggested_folders(tuple(roots))
    choice = st.selectbox(
        "Dataset folder",
        [*suggestions, "Other folder…"],
        key=f"{key}_choice",
        help="One sub-folder per class. Allowed roots: " + ", ".join(roots),
    )
    if choice == "Other folder…":
        return st.text_input(
            "Folder path",
            value=roots[0] if roots else "",
            key=f"{key}_path",
            help="Must lie under an allowed root.",
        )
    return choice


@st.cache_data(ttl=30, show_spinner=False)
def _suggested_folders(roots: tuple[str, ...]) -> list[str]:
    # The roots themselves plus their direct sub-folders that hold sub-folders (class-per-folder
    # candidates); bounded so a large home folder stays quick.
    out: list[str] = []
    for root in roots:
        out.append(root)
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)[:300]
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                if any(sub.is_dir(follow_symlinks=False) for sub in os.scandir(entry.path)):
                    out.append(entry.path)
            except OSError:
                continue
    return out


@st.cache_data(ttl=60, show_spinner="Scanning the folder…", max_entries=16)
def cached_scan(path: str, image_size: tuple[int, int], color_mode: str, dtype: str) -> dict:
    from diagnostics.dataset import resolve_dataset, scan

    folder = resolve_dataset(path)
    return scan(folder, image_size=image_size, color_mode=color_mode, dtype=dtype).to_dict()


def option_widget(name: str, kind: str, label: str, help_text: str, key: str) -> Any:
    default = getattr(DEFAULTS, name)
    if kind == "select":
        choices = list(CHOICES[name])
        return st.selectbox(label, choices, index=choices.index(default), help=help_text, key=key)
    if kind == "knob":
        choices = list(ui.KNOB_CHOICES)
        return ui.knob_value(
            st.selectbox(label, choices, index=choices.index(str(default)), help=help_text, key=key)
        )
    if kind == "bool":
        return st.checkbox(label, value=default, help=help_text, key=key)
    if kind == "int":
        return int(
            st.number_input(
                label, min_value=0 if name == "seed" else 1, value=default, step=1, help=help_text, key=key
            )
        )
    if kind == "opt_int":
        value = st.number_input(label, min_value=1, value=default, step=1, help=help_text, key=key)
        return None if value is None else int(value)
    if kind == "opt_float":
        return st.number_input(label, min_value=0.0, value=default, format="%.5f", help=help_text, key=key)
    raise ValueError(f"unknown option kind {kind!r}")


def loader_options_form(loader_name: str, prefix: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Widgets for the options this loader accepts, three per row; returns changed values only."""
    from diagnostics.loaders import get_loader

    loader = get_loader(loader_name)
    specs = [s for s in ui.applicable_specs(loader.options) if s[0] not in skip]
    values: dict[str, Any] = {}
    for start in range(0, len(specs), 3):
        columns = st.columns(3)
        for column, (name, kind, label, help_text) in zip(columns, specs[start : start + 3], strict=False):
            with column:
                values[name] = option_widget(
                    name, kind, label, help_text, key=f"{prefix}_{loader_name}_{name}"
                )
    return {k: v for k, v in values.items() if v != getattr(DEFAULTS, k)}


def limits_form(prefix: str) -> dict[str, Any]:
    """Memory budget (MiB) and timeout (s); empty means the defaults (80% of free RAM, none)."""
    left, right = st.columns(2)
    budget_mib = left.number_input(
        "Memory budget (MiB)",
        min_value=64,
        value=None,
        step=256,
        key=f"{prefix}_budget",
        help="The worker's whole process tree is killed when its RSS crosses this. Empty = 80% of available RAM.",
    )
    timeout_s = right.number_input(
        "Timeout (s)",
        min_value=1,
        value=None,
        step=30,
        key=f"{prefix}_timeout",
        help="Empty = no time limit.",
    )
    out: dict[str, Any] = {}
    if budget_mib:
        out["memory_budget_bytes"] = int(budget_mib) * 1024 * 1024
    if timeout_s:
        out["timeout_seconds"] = float(timeout_s)
    return out


def run_choices(store: Store, statuses: tuple[str, ...] | None = None) -> dict[int, str]:
    """{run id: label} newest first, for pickers."""
    frame = store.list_runs()
    if statuses is not None:
        frame = frame[frame["status"].isin(statuses)]
    return {
        int(r.id): f"#{r.id} {r.loader} · {Path(str(r.dataset_path)).name} · {r.status} · {r.created}"
        for r in frame.itertuples()
    }


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


def with_spinner(text: str, fn: Callable[[], Any]) -> Any:
    with st.spinner(text):
        return fn()
