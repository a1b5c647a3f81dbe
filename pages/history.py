"""History: every stored run, filtered; open, compare, delete, export CSV/JSON and HTML reports."""

from __future__ import annotations

import json

import streamlit as st

from diagnostics import views
from diagnostics.export import run_json
from diagnostics.report import render_html
from pages._common import get_store, page_header, user_errors

page_header("History", "Every run in the store. Select rows to open, compare, export or delete them.")
store = get_store()


def _forget_pending() -> None:
    st.session_state.pop("hist_pending_delete", None)


@st.dialog("Delete runs?", on_dismiss=_forget_pending)
def confirm_delete(run_ids: list[int]) -> None:
    st.write(
        f"Delete {'run' if len(run_ids) == 1 else 'runs'} {', '.join(f'#{i}' for i in run_ids)} "
        "with their samples, events and logs?"
    )
    st.caption("This cannot be undone.")
    left, right = st.columns(2)
    if left.button("Delete", type="primary", key="hist_confirm_delete"):
        with user_errors():
            for run_id in run_ids:
                store.delete_run(run_id)
        _forget_pending()
        st.rerun()
    if right.button("Keep them", key="hist_cancel_delete"):
        _forget_pending()
        st.rerun()


with user_errors():
    runs = store.list_runs()
    if runs.empty:
        st.info("No runs yet. Start one on the Run page.", icon=":material/info:")
        st.stop()

    left, middle, right = st.columns([1, 1, 2])
    statuses = left.multiselect("Status", sorted(runs["status"].unique()), key="hist_status")
    loaders = middle.multiselect("Loader", sorted(runs["loader"].dropna().unique()), key="hist_loader")
    text = right.text_input("Dataset contains", key="hist_text", placeholder="e.g. sample_data")
    shown = views.history.filter_runs(runs, statuses, loaders, text)
    table = views.history.history_table(shown)
    table_ids = [int(i) for i in table["id"]]

    def _sync_selection() -> None:
        # Ticking rows in the table fills the "Selected runs" box that the actions read.
        rows = st.session_state["hist_table"].selection.rows
        st.session_state["hist_selected"] = [table_ids[i] for i in rows if i < len(table_ids)]

    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select=_sync_selection,
        selection_mode="multi-row",
        key="hist_table",
        column_config={
            "peak_mib": st.column_config.NumberColumn("peak (MiB)", format="%.0f"),
            "baseline_mib": st.column_config.NumberColumn("baseline (MiB)", format="%.0f"),
            "images_per_second": st.column_config.NumberColumn("images/s", format="%.0f"),
            "leak_mib_per_epoch": st.column_config.NumberColumn("leak (MiB/epoch)", format="%+.1f"),
        },
    )
    st.session_state["hist_selected"] = [
        i for i in st.session_state.get("hist_selected", []) if i in table_ids
    ]
    labels = views.common.run_choices(shown)  # '#11 keras_directory · flowers · completed · created'
    selected = st.multiselect(
        "Selected runs",
        table_ids,
        key="hist_selected",
        format_func=lambda i: labels.get(i, f"#{i}"),
        help="Tick rows in the table or pick run ids here.",
    )
    st.caption(f"{len(shown)} of {views.history.runs_text(len(runs))} shown; {len(selected)} selected.")

    a, b, c, d = st.columns(4)
    if a.button(
        "Open in Run view", disabled=len(selected) != 1, key="hist_open", icon=":material/open_in_new:"
    ):
        st.switch_page("pages/run.py", query_params={"run": str(selected[0])})
    if b.button(
        "Compare", disabled=not 2 <= len(selected) <= 6, key="hist_compare", icon=":material/compare:"
    ):
        st.switch_page("pages/compare.py", query_params={"run": [str(i) for i in selected]})
    if c.button("Delete…", disabled=not selected, key="hist_delete", icon=":material/delete:"):
        st.session_state["hist_pending_delete"] = selected
    if st.session_state.get("hist_pending_delete"):
        confirm_delete(st.session_state["hist_pending_delete"])
    if not 1 <= len(selected) <= 6:
        d.button(
            "HTML report",
            disabled=True,
            key="hist_report_off",
            icon=":material/description:",
            help="Select 1 run for its report, or 2 to 6 for a comparison.",
        )
    else:
        d.download_button(
            "HTML report" if len(selected) == 1 else "HTML comparison report",
            data=lambda: render_html(store, selected),
            file_name=f"report-{'-'.join(map(str, selected))}.html",
            mime="text/html",
            icon=":material/description:",
            key="hist_report",
        )

    export_ids = selected or [int(i) for i in shown["id"]]
    e, f, _ = st.columns([1, 1, 2])
    e.download_button(
        f"Export CSV ({views.history.runs_text(len(export_ids))})",
        data=shown[shown["id"].isin(export_ids)].to_csv(index=False),
        file_name="runs.csv",
        mime="text/csv",
        key="hist_csv",
        icon=":material/download:",
    )
    f.download_button(
        f"Export JSON ({views.history.runs_text(len(export_ids))})",
        data=lambda: json.dumps([run_json(store, i) for i in export_ids], indent=2),
        file_name="runs.json",
        mime="application/json",
        key="hist_json",
        icon=":material/download:",
    )
