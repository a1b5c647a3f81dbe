"""The Sweep page's figure: peak memory vs images/s of a sweep's trials, with the Pareto front."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from diagnostics.charts.style import BUDGET_COLOUR, PALETTE, empty, layout
from diagnostics.units import MiB

__all__ = ["DOMINATED_MARKER", "LOG_AXIS_SPREAD", "UNSTABLE_MARKER", "pareto_figure"]

# A Pareto chart switches to a log throughput axis when its fastest point is this many times its
# slowest: beyond that the others share the bottom tenth of a linear axis.
LOG_AXIS_SPREAD = 10.0
DOMINATED_MARKER = dict(color="#9ca3af", size=10, line=dict(color="#4b5563", width=1))
UNSTABLE_MARKER = dict(color="white", size=10, line=dict(color="#dc2626", width=1.5), symbol="circle-open")


def pareto_figure(
    points: pd.DataFrame,
    *,
    budget_bytes: float | None = None,
    recommended_id: Any = None,
    height: int = 520,
) -> go.Figure:
    """Peak memory vs images/s for sweep trials, the Pareto front drawn as a step line.

    ``points`` columns: ``id``, ``label``, ``peak_rss_bytes``, ``images_per_second``, ``on_front``
    (bool), optionally ``stable`` (bool; unstable timings are drawn apart). Better is up (faster)
    and left (less memory).
    """
    frame = points.dropna(subset=["peak_rss_bytes", "images_per_second"]) if points is not None else None
    if frame is None or frame.empty:
        return empty("No finished trials with a peak and a throughput yet.", height=height)
    fig = go.Figure()
    stable = frame["stable"].astype(bool) if "stable" in frame else pd.Series(True, index=frame.index)
    unstable = frame[~stable]
    others = frame[~frame["on_front"].astype(bool) & stable]
    front = frame[frame["on_front"].astype(bool)].sort_values("peak_rss_bytes")
    front_line = dict(mode="lines+markers", line=dict(color=PALETTE[0], width=2, shape="hv"))
    for part, name, marker, note, style in (
        (unstable, "timing too short (not stable)", UNSTABLE_MARKER, " (not stable)", {}),
        (others, "dominated trial", DOMINATED_MARKER, "", {}),
        (front, "Pareto front", dict(color=PALETTE[0], size=11), "", front_line),
    ):
        if not part.empty:
            fig.add_trace(
                go.Scatter(
                    x=part["peak_rss_bytes"] / MiB,
                    y=part["images_per_second"],
                    name=name,
                    marker=marker,
                    text=part["label"],
                    hovertemplate="%{text}<br>%{x:,.0f} MiB, %{y:,.0f} img/s" + note + "<extra></extra>",
                    **{"mode": "markers", **style},
                )
            )
    if recommended_id is not None and (frame["id"] == recommended_id).any():
        best = frame[frame["id"] == recommended_id].iloc[0]
        fig.add_trace(
            go.Scatter(
                x=[best["peak_rss_bytes"] / MiB],
                y=[best["images_per_second"]],
                mode="markers",
                name="recommended",
                marker=dict(color="#f59e0b", size=20, symbol="star", line=dict(color="#92400e", width=1)),
                text=[best["label"]],
                hovertemplate="recommended: %{text}<extra></extra>",
            )
        )
    max_peak = float(frame["peak_rss_bytes"].max())
    if budget_bytes and budget_bytes > 1.6 * max_peak:
        # Far to the right of every trial: say so instead of squashing the points into a corner.
        fig.add_annotation(
            x=1,
            y=1,
            xref="paper",
            yref="paper",
            text=f"memory budget {budget_bytes / MiB:,.0f} MiB: every trial is well below it",
            showarrow=False,
            xanchor="right",
            font=dict(color=BUDGET_COLOUR),
        )
    elif budget_bytes:
        fig.add_vline(x=budget_bytes / MiB, line=dict(color=BUDGET_COLOUR, width=1.5, dash="dashdot"))
        fig.add_annotation(
            x=budget_bytes / MiB,
            y=1,
            yref="paper",
            text="memory budget",
            showarrow=False,
            xanchor="right",
            xshift=-4,
            font=dict(color=BUDGET_COLOUR),
        )
    fig.update_xaxes(title_text="peak RSS (MiB)")
    rates = frame["images_per_second"][frame["images_per_second"] > 0]
    spread = float(rates.max() / rates.min()) if len(rates) else 1.0
    if spread >= LOG_AXIS_SPREAD:
        # One trial far above the rest (often a timing too short to be stable) would flatten every
        # other point onto the floor of a linear axis.
        fig.update_yaxes(title_text="images/s (log scale)", type="log")
        fig.add_annotation(
            x=0,
            y=1,
            xref="paper",
            yref="paper",
            yshift=-4,
            text=f"log scale: the fastest trial is {spread:,.0f}x the slowest",
            showarrow=False,
            xanchor="left",
            font=dict(color="#6b7280"),
        )
    else:
        fig.update_yaxes(title_text="images/s", rangemode="tozero")
    layout(fig, height=height, title="Peak memory vs throughput")
    fig.update_layout(hovermode="closest")
    return fig
