"""A run's log timeline: each log template's occurrences on the time axis, GC events and epochs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from diagnostics.charts.style import (
    NARROW_PLOT_FACTOR,
    PALETTE,
    add_epoch_marks,
    empty,
    epoch_marks,
    layout,
)

__all__ = ["log_timeline_figure"]


def log_timeline_figure(
    log_groups: Sequence[Mapping[str, Any]],
    events: pd.DataFrame,
    t_ready: float,
    *,
    height: int = 360,
    max_groups: int = 8,
) -> go.Figure:
    """Each log template's occurrences on the time axis, with GC events and epoch starts marked."""
    groups = [g for g in log_groups if g.get("times")][:max_groups]
    if not groups:
        return empty("No timed log lines.", height=height)
    fig = go.Figure()
    labels = []
    for i, group in enumerate(groups):
        label = _short(group.get("template", "?"), 60)
        labels.append(label)
        times = [float(t) - t_ready for t in group["times"]]
        colour = PALETTE[i % len(PALETTE)] if group.get("known") else "#6b7280"
        fig.add_trace(
            go.Scatter(
                x=times,
                y=[label] * len(times),
                mode="markers",
                name=label,
                showlegend=False,
                marker=dict(color=colour, size=9, symbol="line-ns-open", line=dict(width=2, color=colour)),
                hovertemplate="%{x:.2f} s<extra>" + label.replace("%", "%%") + "</extra>",
            )
        )
    if events is not None and not events.empty:
        gc_events = events[events["kind"] == "gc"]
        if not gc_events.empty:
            fig.add_trace(
                go.Scatter(
                    x=gc_events["t"] - t_ready,
                    y=["GC (per epoch)"] * len(gc_events),
                    mode="markers",
                    name="GC",
                    showlegend=False,
                    marker=dict(color="#b91c1c", size=11, symbol="x"),
                    hovertemplate="GC at %{x:.2f} s<extra></extra>",
                )
            )
    marks = epoch_marks(events, t_ready)
    # Label spacing is a share of the axis shown, so the axis is set here, not left to autorange
    # (log lines from the imports can stretch it far past the epochs).
    xs = [x for trace in fig.data for x in trace.x] + [x for x, _ in marks]
    pad = 0.03 * max(max(xs) - min(xs), 0.1)
    x_range = (min(xs) - pad, max(xs) + pad)
    add_epoch_marks(fig, marks, (x_range[1] - x_range[0]) * NARROW_PLOT_FACTOR)
    fig.update_xaxes(title_text="seconds since ready (s)", range=list(x_range))
    fig.update_yaxes(title_text=None, automargin=True)
    layout(fig, height=max(height, 80 + 40 * (len(groups) + 1)))
    fig.update_layout(hovermode="closest", margin=dict(t=40))
    return fig


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
