"""The Run page's figure: a run's memory (top) and throughput (bottom) on one shared time axis."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from diagnostics.charts.style import (
    BASELINE_COLOUR,
    BUDGET_COLOUR,
    LEGEND_MARGIN,
    NARROW_PLOT_FACTOR,
    PALETTE,
    THROUGHPUT_COLOUR,
    TOTAL_COLOUR,
    add_done_mark,
    add_epoch_marks,
    empty,
    epoch_marks,
    layout,
    ready_time,
    thin,
    x_window,
)
from diagnostics.throughput import epoch_means, event_data, throughput_frame
from diagnostics.units import MiB

__all__ = ["memory_throughput_figure"]


def memory_throughput_figure(
    samples: pd.DataFrame,
    events: pd.DataFrame,
    *,
    t_ready: float | None = None,
    baseline_bytes: float | None = None,
    budget_bytes: float | None = None,
    peak_bytes: float | None = None,
    title: str | None = None,
    height: int = 620,
) -> go.Figure:
    """Memory (top) and throughput (bottom) on one shared time axis, epochs marked across both.

    Memory: tree RSS total, each process of the tree when there is more than one, the baseline (RSS
    at ready) and the budget. Throughput: images/s between step events, and each epoch's mean.
    """
    if samples is None or samples.empty:
        return empty("No memory samples yet: the trial is queued or starting.", height=height)
    t0 = ready_time(events, t_ready)
    ready = t0 is not None
    if not ready:
        # Stopped before ready (a budget kill while importing): no RSS at ready, so no baseline.
        t0 = float(samples["t"].iloc[0])
        baseline_bytes = None
    frame = thin(samples.sort_values("t").reset_index(drop=True))
    x = frame["t"] - t0

    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.62, 0.38],
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=frame["rss_bytes"] / MiB,
            name="RSS total",
            mode="lines",
            line=dict(color=TOTAL_COLOUR, width=2.5),
            hovertemplate="%{y:,.1f} MiB",
        ),
        row=1,
        col=1,
    )
    per_process = _per_process(frame)
    worker_pid = _worker_pid(events)
    if len(per_process) > 1:
        for i, (pid, series) in enumerate(per_process.items()):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=series / MiB,
                    name=f"pid {pid}" + (" (worker)" if pid == worker_pid else " (child)"),
                    mode="lines",
                    line=dict(color=PALETTE[(i + 1) % len(PALETTE)], width=1.2),
                    hovertemplate="%{y:,.1f} MiB",
                ),
                row=1,
                col=1,
            )
    x_range = [float(x.min()), float(x.max())]
    top_bytes = max(float(frame["rss_bytes"].max()), float(baseline_bytes or 0), float(peak_bytes or 0))
    # A budget far above the run (80% of RAM by default) would squash the curves to the floor:
    # keep it in the legend with its value, and draw it only when it is near the data.
    budget_on_chart = bool(budget_bytes) and budget_bytes <= 1.6 * top_bytes
    budget_name = "memory budget"
    if budget_bytes and not budget_on_chart:
        budget_name = f"memory budget {budget_bytes / MiB:,.0f} MiB (above the chart)"
    for value, name, colour, dash in (
        (baseline_bytes, "baseline (RSS at ready)", BASELINE_COLOUR, "dash"),
        (budget_bytes, budget_name, BUDGET_COLOUR, "dashdot"),
    ):
        if value:
            fig.add_trace(
                go.Scatter(
                    x=x_range,
                    y=[value / MiB] * 2,
                    name=name,
                    mode="lines",
                    line=dict(color=colour, width=1.5, dash=dash),
                    hovertemplate="%{y:,.1f} MiB",
                ),
                row=1,
                col=1,
            )
    peak_row = frame.loc[frame["rss_bytes"].idxmax()]
    peak_label = peak_bytes if peak_bytes else peak_row["rss_bytes"]
    fig.add_trace(
        go.Scatter(
            x=[float(peak_row["t"]) - t0],
            y=[peak_row["rss_bytes"] / MiB],
            name=f"peak {peak_label / MiB:,.0f} MiB" + (" (VmHWM)" if peak_bytes else ""),
            mode="markers",
            marker=dict(color=TOTAL_COLOUR, size=10, symbol="diamond"),
            hovertemplate="peak %{y:,.1f} MiB",
        ),
        row=1,
        col=1,
    )

    rates = throughput_frame(events, t0)
    if not rates.empty:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for _, group in rates.groupby("epoch", sort=True):
            for r in group.itertuples():
                xs += [r.t_start, r.t_end]
                ys += [r.images_per_second, r.images_per_second]
            xs.append(None)
            ys.append(None)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name="images/s (between steps)",
                mode="lines",
                line=dict(color=THROUGHPUT_COLOUR, width=1.8),
                connectgaps=False,
                hovertemplate="%{y:,.0f} img/s",
            ),
            row=2,
            col=1,
        )
    else:
        # plotly draws no axis of a panel without a trace, and the time axis is this panel's.
        fig.add_trace(
            go.Scatter(x=[0.0], y=[None], mode="lines", showlegend=False, hoverinfo="skip"), row=2, col=1
        )
        fig.add_annotation(
            text="no training steps measured",
            xref="x2 domain",
            yref="y2 domain",
            x=0.5,
            y=0.5,
            showarrow=False,
            font=dict(size=12, color="#6b7280"),
        )
    means = epoch_means(events, t0)
    if means:
        xs, ys = [], []
        for start, end, rate in means:
            xs += [start, end, None]
            ys += [rate, rate, None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name="epoch mean images/s",
                mode="lines",
                line=dict(color="#065f46", width=2.5, dash="dash"),
                hovertemplate="epoch mean %{y:,.0f} img/s",
            ),
            row=2,
            col=1,
        )
    x_start, x_end = x_window(x)
    after = max(float(x.max()), 0.0)
    fig.update_xaxes(range=[x_start, x_end])
    add_epoch_marks(fig, epoch_marks(events, t0), (after - x_start) * NARROW_PLOT_FACTOR)
    add_done_mark(fig, events, t0, row=1, col=1)
    shown_top = max(top_bytes, float(budget_bytes)) if budget_on_chart else top_bytes
    # Overheads of a few MiB on a ~600 MiB TensorFlow baseline vanish on an axis from zero: span
    # what is in view (samples after x_start, the baseline), padded, never below zero.
    in_view = frame.loc[x >= x_start, "rss_bytes"]
    lows = [float(in_view.min())] if not in_view.empty else [top_bytes]
    shown_bottom = min(lows + ([float(baseline_bytes)] if baseline_bytes else []))
    pad = max(0.08 * (shown_top - shown_bottom), 16 * MiB)
    fig.update_yaxes(
        title_text="memory: tree RSS (MiB)",
        range=[max(0.0, shown_bottom - pad) / MiB, (shown_top + pad) / MiB],
        row=1,
        col=1,
    )
    fig.update_yaxes(title_text="throughput (images/s)", rangemode="tozero", row=2, col=1)
    time_title = "seconds since ready (s)" if ready else "seconds since the first sample (s)"
    fig.update_xaxes(title_text=time_title, row=2, col=1)
    layout(fig, height=height, title=title)
    # One legend per panel, to the right of it, so each names only the lines beside it.
    for trace in fig.data:
        if trace.yaxis == "y2":
            trace.legend = "legend2"
    fig.update_layout(
        margin=dict(t=80 if title else 40, r=LEGEND_MARGIN),
        legend=dict(orientation="v", x=1.01, xanchor="left", y=1.0, yanchor="top"),
        legend2=dict(orientation="v", x=1.01, xanchor="left", y=0.36, yanchor="top"),
    )
    return fig


def _worker_pid(events: pd.DataFrame) -> str | None:
    if events is None or events.empty:
        return None
    ready = events[events["kind"] == "ready"]
    if ready.empty:
        return None
    pid = event_data(ready["data"].iloc[0]).get("pid")
    return None if pid is None else str(pid)


def _per_process(frame: pd.DataFrame) -> dict[str, pd.Series]:
    if "processes" not in frame.columns:
        return {}
    parsed = [event_data(v) for v in frame["processes"]]
    pids: list[str] = []
    for entry in parsed:
        for pid in entry:
            if str(pid) not in pids:
                pids.append(str(pid))
    out = {}
    for pid in pids:
        values = [entry.get(pid, entry.get(int(pid) if pid.isdigit() else pid)) for entry in parsed]
        out[pid] = pd.Series(values, index=frame.index, dtype="float64")
    return out
