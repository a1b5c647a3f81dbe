"""Compare: 2 to 6 runs overlaid (memory aligned at ready), throughput per epoch, config diff."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from diagnostics import charts, queries, throughput, views
from diagnostics.report import render_html
from diagnostics.status import FINISHED_STATUSES
from pages import _views, _xray
from pages._common import get_store, page_header, plot, run_choices, user_errors

page_header(
    "Compare runs", "Memory curves aligned at ready, throughput per epoch, what differs in the config."
)
store = get_store()
choices = run_choices(store, tuple(FINISHED_STATUSES))
if len(choices) < 2:
    st.info("Compare needs at least two finished runs. Start some on the Run page.", icon=":material/info:")
    st.stop()

asked = {text: queries.parse_run_id(text) for text in st.query_params.get_all("run")}
unknown = [text for text, run_id in asked.items() if run_id not in choices]
if unknown:
    names = ", ".join(views.common.escape_markdown(text) for text in unknown)
    st.warning(f"No such run: {names}.", icon=":material/search_off:")
default = [run_id for run_id in asked.values() if run_id in choices] or list(choices)[:2]
picked = st.multiselect(
    "Runs to compare (2 to 6)",
    list(choices),
    default=default[:6],
    format_func=choices.get,
    max_selections=6,
    key="cmp_runs",
)
if len(picked) < 2:
    st.warning("Pick at least two runs.")
    st.stop()

with user_errors():
    runs = {run_id: store.get_run(run_id) for run_id in picked}
    labels = views.common.run_labels(runs.values())
    colours = {labels[i]: charts.run_colour(i) for i in runs}

    table = pd.DataFrame([views.compare.compare_row(run, labels[i]) for i, run in runs.items()])
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={"images/s": st.column_config.TextColumn(help=throughput.DEFINITION)},
    )

    memory = {labels[i]: (store.samples(i), run.get("t_ready")) for i, run in runs.items()}
    plot(charts.compare_memory_figure(memory, colours=colours), key="cmp_memory")
    epochs = views.compare.epochs_frame({labels[i]: run.get("summary") for i, run in runs.items()})
    plot(charts.compare_throughput_figure(epochs, colours=colours), key="cmp_throughput")
    _xray.compare_section({labels[i]: run for i, run in runs.items()})

    st.subheader("Configuration")
    diff = views.common.config_diff({labels[i]: run.get("config") or {} for i, run in runs.items()})
    only_diff = st.toggle("Only options that differ", value=True, key="cmp_only_diff")
    shown = diff[diff["differs"]] if only_diff else diff
    styled = shown.drop(columns="differs").style.apply(
        lambda row: (
            ["background-color: #fef3c7; font-weight: 600" if shown.loc[row.name, "differs"] else ""]
            * len(row)
        ),
        axis=1,
    )
    st.dataframe(styled, hide_index=True, width="stretch")

    st.subheader("Findings")
    for column, (run_id, run) in zip(st.columns(len(runs)), runs.items(), strict=True):
        with column:
            st.markdown(f"**{labels[run_id]}**")
            _views.findings(run.get("findings"), compact=True)

    st.download_button(
        "Download HTML report of this comparison",
        data=lambda: render_html(store, picked),
        file_name=f"comparison-{'-'.join(map(str, picked))}.html",
        mime="text/html",
        icon=":material/description:",
        key="cmp_report",
    )
