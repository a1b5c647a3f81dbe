"""The Compare page's figures: several runs' memory aligned at ready, and their per-epoch rates."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from diagnostics.charts.style import PALETTE, empty, layout, thin
from diagnostics.units import MiB

__all__ = ["compare_memory_figure", "compare_throughput_figure"]


def compare_memory_figure(
    runs: Mapping[str, tuple[pd.DataFrame, float | None]],
    *,
    colours: Mapping[str, str] | None = None,
    height: int = 480,
) -> go.Figure:
    """Tree RSS of several runs overlaid, each aligned at its own ``ready`` (x = 0).

    ``colours`` maps a label to its run's colour (``style.run_colour``), so a run keeps it.
    """
    fig = go.Figure()
    for i, (label, (samples, t_ready)) in enumerate(runs.items()):
        if samples is None or samples.empty:
            continue
        frame = thin(samples.sort_values("t").reset_index(drop=True))
        t0 = float(t_ready) if t_ready is not None else float(frame["t"].iloc[0])
        fig.add_trace(
            go.Scatter(
                x=frame["t"] - t0,
                y=frame["rss_bytes"] / MiB,
                name=label,
                mode="lines",
                line=dict(color=_colour(colours, label, i), width=2),
                hovertemplate="%{y:,.1f} MiB",
            )
        )
    if not fig.data:
        return empty("The selected runs have no memory samples.", height=height)
    fig.add_vline(x=0, line=dict(color="#9ca3af", width=1, dash="dot"))
    fig.add_annotation(x=0, y=1, yref="paper", text="ready", showarrow=False, xanchor="left", xshift=3)
    fig.update_xaxes(title_text="seconds since ready (s)")
    fig.update_yaxes(title_text="RSS of process tree (MiB)", rangemode="tozero")
    return layout(fig, height=height, title="Memory, aligned at ready")


def compare_throughput_figure(
    epochs: pd.DataFrame, *, colours: Mapping[str, str] | None = None, height: int = 420
) -> go.Figure:
    """Grouped bars: images/s per epoch for each run (``epochs`` from ``views.compare.epochs_frame``)."""
    if epochs is None or epochs.empty:
        return empty("No completed epochs to compare.", height=height)
    fig = go.Figure()
    for i, (label, group) in enumerate(epochs.groupby("run", sort=False)):
        fig.add_trace(
            go.Bar(
                x=[f"epoch {e}" for e in group["epoch"]],
                y=group["images_per_second"],
                name=str(label),
                marker_color=_colour(colours, str(label), i),
                text=[f"{v:,.0f}" if pd.notna(v) else "" for v in group["images_per_second"]],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{y:,.0f} img/s",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="images/s", rangemode="tozero")
    layout(fig, height=height, title="Throughput per epoch")
    fig.update_layout(hovermode="closest")
    return fig


def _colour(colours: Mapping[str, str] | None, label: str, i: int) -> str:
    return (colours or {}).get(label) or PALETTE[i % len(PALETTE)]
