"""The look every chart shares: palette and colours, layout and font, the empty figure, thinning,
and the time axis of a run (seconds since ready, epoch marks, the done mark, the shown window).

Every figure puts time as seconds since the worker's ``ready`` event (``t - t_ready``), memory in
MiB and throughput in images/s, with axis titles carrying those units.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from diagnostics.throughput import event_data

__all__ = [
    "BASELINE_COLOUR",
    "BUDGET_COLOUR",
    "FONT",
    "LEGEND_MARGIN",
    "MAX_POINTS",
    "NARROW_PLOT_FACTOR",
    "PALETTE",
    "THROUGHPUT_COLOUR",
    "TOTAL_COLOUR",
    "add_done_mark",
    "add_epoch_marks",
    "empty",
    "epoch_marks",
    "layout",
    "ready_time",
    "run_colour",
    "thin",
    "x_window",
]

# Enough points for a smooth line at 1400 px wide; more only slows the browser.
MAX_POINTS = 3000
PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"]
TOTAL_COLOUR = "#1d4ed8"
THROUGHPUT_COLOUR = "#059669"
BASELINE_COLOUR = "#6b7280"
BUDGET_COLOUR = "#dc2626"

# Right margin for the legend beside a per-run figure: the same on every figure of a run's page, so
# their time axes line up when stacked (component names are long).
LEGEND_MARGIN = 300

# The per-run figures keep a LEGEND_MARGIN legend on the right: on the page the plot is about
# 600 px, not the 1100 px the epoch labels' spacing assumes.
NARROW_PLOT_FACTOR = 1.8


def run_colour(run_id: int) -> str:
    """A run's colour on every comparison, whatever else is selected: keyed by its id."""
    return PALETTE[int(run_id) % len(PALETTE)]


FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


def layout(fig: go.Figure, *, height: int, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height,
        template="plotly_white",
        font=FONT,
        title=dict(text=title, x=0.0, xanchor="left", font=dict(size=16)) if title else None,
        margin=dict(l=70, r=30, t=90 if title else 60, b=60),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0.0),
        hovermode="x unified",
    )
    return fig


def empty(message: str, *, height: int = 320) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=15, color="#6b7280"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return layout(fig, height=height)


def thin(frame: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Keep every n-th row but always the row of the maximum, so the plotted peak is true."""
    if len(frame) <= max_points:
        return frame
    step = -(-len(frame) // max_points)
    keep = frame.iloc[::step]
    peak_index = frame["rss_bytes"].idxmax()
    if peak_index not in keep.index:
        keep = pd.concat([keep, frame.loc[[peak_index]]]).sort_values("t")
    return keep


def ready_time(events: pd.DataFrame, t_ready: float | None) -> float | None:
    if t_ready is not None:
        return float(t_ready)
    if events is not None and not events.empty:
        ready = events[events["kind"] == "ready"]
        if not ready.empty:
            return float(ready["t"].iloc[0])
    return None


def epoch_marks(events: pd.DataFrame, t_ready: float) -> list[tuple[float, int]]:
    """(seconds since ready, 1-based epoch number) for every ``epoch_start`` event."""
    if events is None or events.empty:
        return []
    starts = events[events["kind"] == "epoch_start"]
    marks = []
    for row in starts.itertuples():
        epoch = event_data(row.data).get("epoch", len(marks))
        marks.append((float(row.t) - t_ready, int(epoch) + 1))
    return marks


def add_epoch_marks(fig: go.Figure, marks: list[tuple[float, int]], x_span: float | None = None) -> None:
    """Dotted lines at epoch starts with labels on two rows; a label that fits on neither row
    (very short epochs) is left out, its line stays."""
    # A label is about 60 px wide on a plot about 1100 px wide.
    min_gap = 0.055 * (x_span or 1.0)
    last_x = [float("-inf"), float("-inf")]
    for x, epoch in marks:
        fig.add_vline(x=x, line=dict(color="#9ca3af", width=1, dash="dot"))
        row = next((r for r in (0, 1) if x - last_x[r] >= min_gap), None)
        if row is None:
            continue
        last_x[row] = x
        fig.add_annotation(
            x=x,
            y=1.0,
            xref="x",
            yref="paper",
            text=f"epoch {epoch}",
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            xshift=3,
            yshift=15 * row,
            font=dict(size=11, color="#4b5563"),
        )


def add_done_mark(fig: go.Figure, events: pd.DataFrame, t0: float, **where: Any) -> None:
    """A line where the trial ended: sampling goes on while the worker exits, probe snapshots do not."""
    done = events[events["kind"] == "done"] if events is not None and not events.empty else None
    if done is not None and not done.empty:
        fig.add_vline(
            x=float(done["t"].iloc[0]) - t0,
            line=dict(color="#6b7280", width=1.2),
            annotation=dict(text="done", font=dict(size=11, color="#4b5563"), yshift=-4),
            annotation_position="top right",
            **where,
        )


def x_window(x: pd.Series) -> tuple[float, float]:
    """The time window every per-run figure shows, so they line up when stacked on a page."""
    # The import phase before ready can last longer than the trial itself: show a little of it
    # (the baseline forming) and leave the rest one double-click away.
    after = max(float(x.max()), 0.0)
    x_start = max(float(x.min()), -max(0.5, 0.1 * after))
    return x_start, after + 0.02 * max(after - x_start, 0.1)
