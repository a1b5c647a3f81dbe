"""Streamlit renderers of the Pipeline X-ray: where the memory is, stage by stage (issue 11).

Used by ``_views.run_view`` (Run and History, live and finished) and the Compare page. Figures
and tables come from ``diagnostics.charts`` / ``diagnostics.views``; this module only lays them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from diagnostics import charts, views
from diagnostics.store import Store
from diagnostics.units import format_bytes
from pages._common import plot

MIB_COLUMN = st.column_config.NumberColumn(format="%.1f")


def run_section(
    store: Store, run: dict[str, Any], samples: pd.DataFrame, events: pd.DataFrame, *, key: str = "run"
) -> None:
    """The stacked attribution over time, the table at the peak, the stages and AUTOTUNE's choices."""
    attribution, autotune = views.xray.xray_frames(store, run, samples, events)
    marks = views.run.memory_figure_marks(run, events)
    summary = run.get("summary") or {}
    st.subheader("Where the memory is")
    figure = charts.attribution_figure(
        attribution, samples, events, t_ready=marks["t_ready"], baseline_bytes=marks["baseline_bytes"]
    )
    plot(figure, key=f"{key}_attribution")
    if summary:
        st.caption(views.xray.attribution_caption(summary.get("attribution")))
        rows = views.xray.attribution_rows(summary.get("attribution"))
        if rows:
            st.dataframe(
                pd.DataFrame(rows), hide_index=True, width="stretch", column_config={"MiB": MIB_COLUMN}
            )
        st.subheader("Pipeline stages")
        if summary.get("pipeline"):
            st.markdown(views.xray.bound_sentence(summary))
            st.dataframe(
                pd.DataFrame(views.xray.stage_rows(summary["pipeline"])),
                hide_index=True,
                width="stretch",
                column_config={
                    "buffered now (MiB)": MIB_COLUMN,
                    "buffered peak (MiB)": MIB_COLUMN,
                },
            )
        elif "pipeline" in summary:
            st.info(views.xray.NO_TFDATA_NOTE, icon=":material/info:")
        else:
            st.caption("This run predates the pipeline probe: no stage data.")
    if not autotune.empty:
        plot(
            charts.autotune_figure(
                autotune, events, t_ready=marks["t_ready"], x_range=figure.layout.xaxis.range
            ),
            key=f"{key}_autotune",
        )


def compare_section(runs: Mapping[str, dict[str, Any]]) -> None:
    """Each run's overhead at its peak by component, side by side, and its top components."""
    st.subheader("Where the memory is")
    attributions = {label: (run.get("summary") or {}).get("attribution") for label, run in runs.items()}
    if not any(attributions.values()):
        st.info("None of these runs has a memory attribution (runs from before the probe).")
        return
    plot(charts.compare_attribution_figure(attributions), key="cmp_attribution")
    # A static table: the sentences wrap instead of being cut at the column's edge.
    st.table(
        pd.DataFrame(
            [
                {
                    "run": label,
                    "overhead at peak": format_bytes((a or {}).get("overhead_bytes"), signed=True),
                    "top components": views.xray.top_components_text(a),
                    "stages": views.xray.bound_sentence(runs[label].get("summary")).replace("**", ""),
                }
                for label, a in attributions.items()
            ]
        ).set_index("run")
    )
