"""Plotly figures as pure functions of the store's frames (see docs/INTERNALS.md, Store).

Every figure puts time as seconds since the worker's ``ready`` event (``t - t_ready``), memory in
MiB and throughput in images/s, with axis titles carrying those units. Nothing here reads the
store or talks to Streamlit, so the dashboard and the HTML report draw the same figures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "attribution_figure",
    "attribution_wide",
    "autotune_figure",
    "class_counts_figure",
    "compare_attribution_figure",
    "compare_memory_figure",
    "compare_throughput_figure",
    "component_colours",
    "epoch_marks",
    "formats_figure",
    "log_timeline_figure",
    "memory_model_figure",
    "memory_throughput_figure",
    "pareto_figure",
    "pixel_size_figure",
    "throughput_frame",
]

MIB = 1024 * 1024
# Enough points for a smooth line at 1400 px wide; more only slows the browser.
MAX_POINTS = 3000
PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"]
TOTAL_COLOUR = "#1d4ed8"
THROUGHPUT_COLOUR = "#059669"
BASELINE_COLOUR = "#6b7280"
BUDGET_COLOUR = "#dc2626"
# A Pareto chart switches to a log throughput axis when its fastest point is this many times its
# slowest: beyond that the others share the bottom tenth of a linear axis.
LOG_AXIS_SPREAD = 10.0
DOMINATED_MARKER = dict(color="#9ca3af", size=10, line=dict(color="#4b5563", width=1))
UNSTABLE_MARKER = dict(color="white", size=10, line=dict(color="#dc2626", width=1.5), symbol="circle-open")
# Right margin for the legend beside a per-run figure: the same on every figure of a run's page, so
# their time axes line up when stacked (component names are long).
LEGEND_MARGIN = 300
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


def _layout(fig: go.Figure, *, height: int, title: str | None = None) -> go.Figure:
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


def _empty(message: str, *, height: int = 320) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=15, color="#6b7280"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=height)


def _thin(frame: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Keep every n-th row but always the row of the maximum, so the plotted peak is true."""
    if len(frame) <= max_points:
        return frame
    step = -(-len(frame) // max_points)
    keep = frame.iloc[::step]
    peak_index = frame["rss_bytes"].idxmax()
    if peak_index not in keep.index:
        keep = pd.concat([keep, frame.loc[[peak_index]]]).sort_values("t")
    return keep


def _as_dict(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _t_ready(events: pd.DataFrame, t_ready: float | None) -> float | None:
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
        epoch = _as_dict(row.data).get("epoch", len(marks))
        marks.append((float(row.t) - t_ready, int(epoch) + 1))
    return marks


def throughput_frame(events: pd.DataFrame, t_ready: float) -> pd.DataFrame:
    """Images/s between consecutive ``step`` events of each epoch.

    Rows: ``t_start``/``t_end`` (seconds since ready), ``epoch`` (1-based), ``images_per_second``.
    The first interval of an epoch starts at its ``epoch_start`` event, so the time spent waiting
    for the first batch (cache fills, worker start-up) counts against the rate, as users feel it.
    """
    columns = ["t_start", "t_end", "epoch", "images_per_second"]
    if events is None or events.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    last: dict[int, tuple[float, int]] = {}
    for row in events.sort_values("t").itertuples():
        data = _as_dict(row.data)
        if row.kind == "epoch_start":
            last[int(data.get("epoch", 0))] = (float(row.t), 0)
        elif row.kind == "step":
            epoch = int(data.get("epoch", 0))
            images = int(data.get("images", 0))
            t_prev, images_prev = last.get(epoch, (None, 0))
            if t_prev is not None and row.t > t_prev and images >= images_prev:
                rate = (images - images_prev) / (float(row.t) - t_prev)
                rows.append((t_prev - t_ready, float(row.t) - t_ready, epoch + 1, rate))
            last[epoch] = (float(row.t), images)
    return pd.DataFrame(rows, columns=columns)


def _add_epoch_marks(fig: go.Figure, marks: list[tuple[float, int]], x_span: float | None = None) -> None:
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


def _add_done_mark(fig: go.Figure, events: pd.DataFrame, t0: float, **where: Any) -> None:
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
        return _empty("No memory samples yet: the trial is queued or starting.", height=height)
    t0 = _t_ready(events, t_ready)
    if t0 is None:
        t0 = float(samples["t"].iloc[0])
    frame = _thin(samples.sort_values("t").reset_index(drop=True))
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
            y=frame["rss_bytes"] / MIB,
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
                    y=series / MIB,
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
        budget_name = f"memory budget {budget_bytes / MIB:,.0f} MiB (above the chart)"
    for value, name, colour, dash in (
        (baseline_bytes, "baseline (RSS at ready)", BASELINE_COLOUR, "dash"),
        (budget_bytes, budget_name, BUDGET_COLOUR, "dashdot"),
    ):
        if value:
            fig.add_trace(
                go.Scatter(
                    x=x_range,
                    y=[value / MIB] * 2,
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
            y=[peak_row["rss_bytes"] / MIB],
            name=f"peak {peak_label / MIB:,.0f} MiB" + (" (VmHWM)" if peak_bytes else ""),
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
    means = _epoch_means(events, t0)
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
    x_start, x_end = _x_window(x)
    after = max(float(x.max()), 0.0)
    fig.update_xaxes(range=[x_start, x_end])
    _add_epoch_marks(fig, epoch_marks(events, t0), (after - x_start) * NARROW_PLOT_FACTOR)
    _add_done_mark(fig, events, t0, row=1, col=1)
    shown_top = max(top_bytes, float(budget_bytes)) if budget_on_chart else top_bytes
    # Overheads of a few MiB on a ~600 MiB TensorFlow baseline vanish on an axis from zero: span
    # what is in view (samples after x_start, the baseline), padded, never below zero.
    in_view = frame.loc[x >= x_start, "rss_bytes"]
    lows = [float(in_view.min())] if not in_view.empty else [top_bytes]
    shown_bottom = min(lows + ([float(baseline_bytes)] if baseline_bytes else []))
    pad = max(0.08 * (shown_top - shown_bottom), 16 * MIB)
    fig.update_yaxes(
        title_text="memory: tree RSS (MiB)",
        range=[max(0.0, shown_bottom - pad) / MIB, (shown_top + pad) / MIB],
        row=1,
        col=1,
    )
    fig.update_yaxes(title_text="throughput (images/s)", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title_text="seconds since ready (s)", row=2, col=1)
    _layout(fig, height=height, title=title)
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


def _x_window(x: pd.Series) -> tuple[float, float]:
    """The time window every per-run figure shows, so they line up when stacked on a page."""
    # The import phase before ready can last longer than the trial itself: show a little of it
    # (the baseline forming) and leave the rest one double-click away.
    after = max(float(x.max()), 0.0)
    x_start = max(float(x.min()), -max(0.5, 0.1 * after))
    return x_start, after + 0.02 * max(after - x_start, 0.1)


def _worker_pid(events: pd.DataFrame) -> str | None:
    if events is None or events.empty:
        return None
    ready = events[events["kind"] == "ready"]
    if ready.empty:
        return None
    pid = _as_dict(ready["data"].iloc[0]).get("pid")
    return None if pid is None else str(pid)


def _per_process(frame: pd.DataFrame) -> dict[str, pd.Series]:
    if "processes" not in frame.columns:
        return {}
    parsed = [_as_dict(v) for v in frame["processes"]]
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


def _epoch_means(events: pd.DataFrame, t0: float) -> list[tuple[float, float, float]]:
    if events is None or events.empty:
        return []
    starts = {}
    out = []
    for row in events.sort_values("t").itertuples():
        data = _as_dict(row.data)
        if row.kind == "epoch_start":
            starts[int(data.get("epoch", 0))] = float(row.t)
        elif row.kind == "epoch_end":
            epoch = int(data.get("epoch", 0))
            seconds = data.get("seconds")
            images = data.get("images")
            if seconds and images is not None and epoch in starts:
                out.append((starts[epoch] - t0, float(row.t) - t0, float(images) / float(seconds)))
    return out


def compare_memory_figure(
    runs: Mapping[str, tuple[pd.DataFrame, float | None]], *, height: int = 480
) -> go.Figure:
    """Tree RSS of several runs overlaid, each aligned at its own ``ready`` (x = 0)."""
    fig = go.Figure()
    for i, (label, (samples, t_ready)) in enumerate(runs.items()):
        if samples is None or samples.empty:
            continue
        frame = _thin(samples.sort_values("t").reset_index(drop=True))
        t0 = float(t_ready) if t_ready is not None else float(frame["t"].iloc[0])
        fig.add_trace(
            go.Scatter(
                x=frame["t"] - t0,
                y=frame["rss_bytes"] / MIB,
                name=label,
                mode="lines",
                line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                hovertemplate="%{y:,.1f} MiB",
            )
        )
    if not fig.data:
        return _empty("The selected runs have no memory samples.", height=height)
    fig.add_vline(x=0, line=dict(color="#9ca3af", width=1, dash="dot"))
    fig.add_annotation(x=0, y=1, yref="paper", text="ready", showarrow=False, xanchor="left", xshift=3)
    fig.update_xaxes(title_text="seconds since ready (s)")
    fig.update_yaxes(title_text="RSS of process tree (MiB)", rangemode="tozero")
    return _layout(fig, height=height, title="Memory, aligned at ready")


def compare_throughput_figure(epochs: pd.DataFrame, *, height: int = 420) -> go.Figure:
    """Grouped bars: images/s per epoch for each run (``epochs`` from ``ui.epochs_frame``)."""
    if epochs is None or epochs.empty:
        return _empty("No completed epochs to compare.", height=height)
    fig = go.Figure()
    for i, (label, group) in enumerate(epochs.groupby("run", sort=False)):
        fig.add_trace(
            go.Bar(
                x=[f"epoch {e}" for e in group["epoch"]],
                y=group["images_per_second"],
                name=str(label),
                marker_color=PALETTE[i % len(PALETTE)],
                text=[f"{v:,.0f}" if pd.notna(v) else "" for v in group["images_per_second"]],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{y:,.0f} img/s",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="images/s", rangemode="tozero")
    _layout(fig, height=height, title="Throughput per epoch")
    fig.update_layout(hovermode="closest")
    return fig


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
        return _empty("No finished trials with a peak and a throughput yet.", height=height)
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
                    x=part["peak_rss_bytes"] / MIB,
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
                x=[best["peak_rss_bytes"] / MIB],
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
            text=f"memory budget {budget_bytes / MIB:,.0f} MiB: every trial is well below it",
            showarrow=False,
            xanchor="right",
            font=dict(color=BUDGET_COLOUR),
        )
    elif budget_bytes:
        fig.add_vline(x=budget_bytes / MIB, line=dict(color=BUDGET_COLOUR, width=1.5, dash="dashdot"))
        fig.add_annotation(
            x=budget_bytes / MIB,
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
    _layout(fig, height=height, title="Peak memory vs throughput")
    fig.update_layout(hovermode="closest")
    return fig


def memory_model_figure(
    memory_model: Mapping[str, float] | None,
    measured_overhead_bytes: float | None,
    *,
    height: int = 320,
) -> go.Figure:
    """The modelled components stacked in one bar, next to the measured overhead (peak - baseline)."""
    # decoded_element is one image inside the batch, not memory of its own.
    components = {
        k: v for k, v in (memory_model or {}).items() if v and k not in ("total", "decoded_element")
    }
    if not components and measured_overhead_bytes is None:
        return _empty("No memory model for this run.", height=height)
    fig = go.Figure()
    for i, (name, value) in enumerate(sorted(components.items(), key=lambda kv: -kv[1])):
        fig.add_trace(
            go.Bar(
                y=["modelled"],
                x=[value / MIB],
                name=name.replace("_", " "),
                orientation="h",
                marker_color=PALETTE[i % len(PALETTE)],
                hovertemplate=f"{name}: %{{x:,.1f}} MiB<extra></extra>",
            )
        )
    if measured_overhead_bytes is not None:
        fig.add_trace(
            go.Bar(
                y=["measured"],
                x=[measured_overhead_bytes / MIB],
                name="measured (peak − baseline)",
                orientation="h",
                marker_color="#374151",
                text=[f"{measured_overhead_bytes / MIB:,.0f} MiB"],
                textposition="auto",
                hovertemplate="measured: %{x:,.1f} MiB<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="memory above baseline (MiB)", rangemode="tozero")
    fig.update_yaxes(categoryorder="array", categoryarray=["measured", "modelled"])
    _layout(fig, height=height, title="Memory model vs measured")
    fig.update_layout(hovermode="closest", margin=dict(l=90), legend=dict(traceorder="normal"))
    return fig


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
        return _empty("No timed log lines.", height=height)
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
    _add_epoch_marks(fig, marks, (marks[-1][0] - marks[0][0]) * 1.3 if len(marks) > 1 else None)
    fig.update_xaxes(title_text="seconds since ready (s)")
    fig.update_yaxes(title_text=None, automargin=True)
    _layout(fig, height=max(height, 80 + 40 * (len(groups) + 1)))
    fig.update_layout(hovermode="closest", margin=dict(t=40))
    return fig


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Dataset scan ---------------------------------------------------------------------------------


def class_counts_figure(counts: Mapping[str, int], *, height: int = 360) -> go.Figure:
    if not counts:
        return _empty("No classes found.", height=height)
    fig = go.Figure(
        go.Bar(
            x=list(counts),
            y=list(counts.values()),
            marker_color=PALETTE[0],
            text=list(counts.values()),
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y} images<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="class (sub-folder)")
    fig.update_yaxes(title_text="images", rangemode="tozero")
    _layout(fig, height=height, title="Images per class")
    fig.update_layout(hovermode="closest")
    return fig


def pixel_size_figure(sizes: Sequence[Sequence[int]], *, height: int = 360) -> go.Figure:
    if not sizes:
        return _empty("No readable images.", height=height)
    widths = [int(s[0]) for s in sizes]
    heights = [int(s[1]) for s in sizes]
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=widths, name="width", marker_color=PALETTE[0], opacity=0.7, nbinsx=30))
    fig.add_trace(go.Histogram(x=heights, name="height", marker_color=PALETTE[1], opacity=0.7, nbinsx=30))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="pixels")
    fig.update_yaxes(title_text="images")
    _layout(fig, height=height, title="Pixel sizes")
    fig.update_layout(hovermode="closest")
    return fig


def formats_figure(
    formats: Mapping[str, int], channel_modes: Mapping[str, int], *, height: int = 360
) -> go.Figure:
    if not formats and not channel_modes:
        return _empty("No readable images.", height=height)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("File formats", "Channel modes"))
    fig.add_trace(
        go.Bar(
            x=list(formats),
            y=list(formats.values()),
            marker_color=PALETTE[2],
            name="format",
            text=list(formats.values()),
            textposition="outside",
            cliponaxis=False,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=list(channel_modes),
            y=list(channel_modes.values()),
            marker_color=PALETTE[3],
            name="channel mode",
            text=list(channel_modes.values()),
            textposition="outside",
            cliponaxis=False,
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(title_text="images", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="images", rangemode="tozero", row=1, col=2)
    _layout(fig, height=height)
    fig.update_layout(showlegend=False, hovermode="closest", margin=dict(t=50))
    return fig


# Pipeline X-ray: where the memory is ------------------------------------------------------------
UNATTRIBUTED = "unattributed"
# Bottom to top of the stack: what is fixed first (code pages, weights), then the pipeline, then
# what the allocator keeps, and the unexplained remainder always on top, right under the RSS line.
KIND_ORDER = ("library", "model", "optimizer", "tfdata_stage", "allocator_free", "other")
# One hue family per kind, so a component keeps its kind's colour on every figure and every run.
KIND_COLOURS = {
    "library": ["#64748b", "#94a3b8", "#475569"],
    "model": ["#7c3aed", "#a78bfa"],
    "optimizer": ["#db2777", "#f9a8d4"],
    "tfdata_stage": ["#2563eb", "#0d9488", "#16a34a", "#0891b2", "#65a30d", "#60a5fa", "#2dd4bf", "#4ade80"],
    "allocator_free": ["#d97706", "#fbbf24"],
    "other": ["#a8a29e", "#78716c"],
}
UNATTRIBUTED_COLOUR = "#9ca3af"
# The per-run figures keep a LEGEND_MARGIN legend on the right: on the page the plot is about
# 600 px, not the 1100 px the epoch labels' spacing assumes.
NARROW_PLOT_FACTOR = 1.8


def component_colours(components: Sequence[tuple[str, str]]) -> dict[str, str]:
    """{name: colour} for (name, kind) pairs: the kind's hue family, in order of first appearance."""
    colours: dict[str, str] = {UNATTRIBUTED: UNATTRIBUTED_COLOUR}
    used: dict[str, int] = {}
    for name, kind in components:
        if name in colours:
            continue
        shades = KIND_COLOURS.get(kind, KIND_COLOURS["other"])
        colours[name] = shades[used.get(kind, 0) % len(shades)]
        used[kind] = used.get(kind, 0) + 1
    return colours


def _stack_order(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(name, kind) of every named component, bottom of the stack first; unattributed left out."""
    firsts = frame[frame["name"] != UNATTRIBUTED].drop_duplicates("name")
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    ordered = sorted(
        zip(firsts["name"], firsts["kind"], range(len(firsts)), strict=True),
        key=lambda r: (rank.get(r[1], len(rank)), r[2]),
    )
    return [(name, kind) for name, kind, _ in ordered]


def _baseline(events: pd.DataFrame, baseline_bytes: float | None) -> float | None:
    if baseline_bytes:
        return float(baseline_bytes)
    if events is None or events.empty:
        return None
    ready = events[events["kind"] == "ready"]
    value = _as_dict(ready["data"].iloc[0]).get("rss_bytes") if not ready.empty else None
    return None if value is None else float(value)


def attribution_wide(attribution: pd.DataFrame, overhead: pd.Series | None = None) -> pd.DataFrame:
    """Bytes per component (columns, bottom of the stack first, unattributed last) per snapshot t.

    A component absent at a snapshot counts 0 there. Without an unattributed column (a partial
    frame) it is derived from ``overhead`` (bytes over baseline indexed by t), so the band is never
    silently missing.
    """
    columns = [name for name, _ in _stack_order(attribution)]
    wide = attribution.pivot_table(index="t", columns="name", values="bytes", aggfunc="sum")
    wide = wide.reindex(columns=[*columns, UNATTRIBUTED]).sort_index()
    wide[columns] = wide[columns].fillna(0.0)
    if wide[UNATTRIBUTED].isna().any() and overhead is not None and not overhead.empty:
        at = pd.Series(overhead.to_numpy(), index=overhead.index.astype(float)).sort_index()
        interpolated = pd.Series(
            np.interp(wide.index.to_numpy(), at.index.to_numpy(), at.to_numpy()), index=wide.index
        )
        wide[UNATTRIBUTED] = wide[UNATTRIBUTED].fillna(interpolated - wide[columns].sum(axis=1))
    wide[UNATTRIBUTED] = wide[UNATTRIBUTED].fillna(0.0)
    return wide


def attribution_figure(
    attribution: pd.DataFrame,
    samples: pd.DataFrame,
    events: pd.DataFrame,
    *,
    t_ready: float | None = None,
    baseline_bytes: float | None = None,
    title: str | None = "Memory above baseline, by component",
    height: int = 460,
) -> go.Figure:
    """Stacked area of the attributed components over time, under the measured RSS overhead line.

    ``attribution`` is the long frame (t, name, kind, bytes) of ``analysis.attribution_frame``;
    the stack at each snapshot sums to that snapshot's overhead, the top band being "unattributed".
    The time window matches ``memory_throughput_figure``'s, so the two line up on a page.
    """
    if (samples is None or samples.empty) and (attribution is None or attribution.empty):
        return _empty("No memory samples yet: the trial is queued or starting.", height=height)
    t0 = _t_ready(events, t_ready)
    baseline = _baseline(events, baseline_bytes)
    frame = _thin(samples.sort_values("t").reset_index(drop=True)) if samples is not None else None
    if t0 is None:
        t0 = float(frame["t"].iloc[0]) if frame is not None and not frame.empty else 0.0
    overhead = None
    if frame is not None and not frame.empty and baseline is not None:
        # The baseline is the RSS at ready: before it (imports) an "overhead" means nothing.
        after = frame[frame["t"] >= t0]
        overhead = pd.Series((after["rss_bytes"] - baseline).to_numpy(), index=after["t"].to_numpy())
    fig = go.Figure()
    if attribution is None or attribution.empty:
        # No probe snapshot (yet, or a run from before the probe): everything is unexplained.
        if title:
            title += "<br><sup>No probe snapshots: all of the overhead is unattributed.</sup>"
        attribution = pd.DataFrame(
            {"t": overhead.index, "name": UNATTRIBUTED, "kind": "other", "bytes": overhead.to_numpy()}
            if overhead is not None
            else {"t": [], "name": [], "kind": [], "bytes": []}
        )
    wide = attribution_wide(attribution, overhead)
    # A component that held nothing at any snapshot only crowds the legend (the tables list it).
    wide = wide[[c for c in wide.columns if c == UNATTRIBUTED or (wide[c] != 0).any()]]
    if not wide.empty and wide.index[0] > t0:
        # At ready every part is zero by definition (overhead and parts are growth since ready), so
        # the stack starts there instead of at the first snapshot, often a few tenths of a second on.
        wide = pd.concat([pd.DataFrame(0.0, index=[t0], columns=wide.columns), wide])
    colours = component_colours([*_stack_order(attribution)])
    kinds = dict(zip(attribution["name"], attribution["kind"], strict=False))
    x = wide.index.to_numpy() - t0
    for name in wide.columns:
        unknown = name == UNATTRIBUTED
        fig.add_trace(
            go.Scatter(
                x=x,
                y=wide[name].to_numpy() / MIB,
                name=name,
                mode="lines",
                stackgroup="components",
                line=dict(width=0.5, color=colours[name]),
                fillcolor=colours[name],
                fillpattern=dict(shape="/", fgcolor="#4b5563", bgcolor="#e5e7eb", size=8)
                if unknown
                else None,
                legendgroup=kinds.get(name, "other"),
                hovertemplate=f"%{{y:,.1f}} MiB <i>({kinds.get(name, 'other').replace('_', ' ')})</i>",
            )
        )
    if overhead is not None:
        fig.add_trace(
            go.Scatter(
                x=overhead.index.to_numpy() - t0,
                y=overhead.to_numpy() / MIB,
                name=f"RSS over baseline ({baseline / MIB:,.0f} MiB at ready)",
                mode="lines",
                line=dict(color=TOTAL_COLOUR, width=2.2),
                hovertemplate="%{y:,.1f} MiB",
            )
        )
    shown = frame["t"] - t0 if frame is not None and not frame.empty else pd.Series(x)
    window = _x_window(shown)
    fig.update_xaxes(range=list(window), title_text="seconds since ready (s)")
    _add_epoch_marks(fig, epoch_marks(events, t0), (window[1] - window[0]) * NARROW_PLOT_FACTOR)
    _add_done_mark(fig, events, t0)
    fig.update_yaxes(title_text="memory above baseline (MiB)", zeroline=True, zerolinecolor="#9ca3af")
    _layout(fig, height=height, title=title)
    fig.update_layout(
        margin=dict(r=LEGEND_MARGIN),
        legend=dict(orientation="v", x=1.01, xanchor="left", y=1.0, yanchor="top", traceorder="reversed"),
    )
    return fig


PARAMETER_UNITS = {"parallelism": "threads", "buffer_size": "elements"}


def autotune_figure(
    autotune: pd.DataFrame,
    events: pd.DataFrame,
    *,
    t_ready: float | None = None,
    x_range: Sequence[float] | None = None,
    height: int | None = None,
) -> go.Figure:
    """AUTOTUNE's choice over time: one panel per parameter, a step line per stage.

    ``autotune`` is the long frame (t, stage, parameter, value) of ``analysis.autotune_frame``.
    """
    if autotune is None or autotune.empty:
        return _empty(
            "No AUTOTUNE parameters in this pipeline (nothing set to AUTOTUNE).", height=height or 200
        )
    t0 = _t_ready(events, t_ready)
    if t0 is None:
        t0 = float(autotune["t"].min())
    parameters = list(dict.fromkeys(autotune["parameter"]))
    fig = make_subplots(rows=len(parameters), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    stages = list(dict.fromkeys(autotune["stage"]))
    for row, parameter in enumerate(parameters, start=1):
        rows = autotune[autotune["parameter"] == parameter].sort_values("t")
        for stage, group in rows.groupby("stage", sort=False):
            fig.add_trace(
                go.Scatter(
                    x=group["t"] - t0,
                    y=group["value"],
                    name=f"{stage}: {parameter}",
                    mode="lines",
                    line=dict(shape="hv", width=2.2, color=PALETTE[stages.index(stage) % len(PALETTE)]),
                    hovertemplate=f"{parameter} %{{y}}",
                ),
                row=row,
                col=1,
            )
        unit = PARAMETER_UNITS.get(parameter)
        fig.update_yaxes(
            title_text=f"{parameter} ({unit})" if unit else parameter, rangemode="tozero", row=row, col=1
        )
    fig.update_xaxes(title_text="seconds since ready (s)", row=len(parameters), col=1)
    if x_range is not None:
        fig.update_xaxes(range=list(x_range))
    span = (x_range[1] - x_range[0]) if x_range else float(autotune["t"].max() - autotune["t"].min()) or None
    _add_epoch_marks(fig, epoch_marks(events, t0), span * NARROW_PLOT_FACTOR if span else None)
    _layout(fig, height=height or 120 + 170 * len(parameters), title="AUTOTUNE's choices over time")
    fig.update_layout(
        margin=dict(r=LEGEND_MARGIN),
        legend=dict(orientation="v", x=1.01, xanchor="left", y=1.0, yanchor="top"),
    )
    return fig


def compare_attribution_figure(
    attributions: Mapping[str, Mapping[str, Any] | None], *, height: int | None = None
) -> go.Figure:
    """Each run's overhead at its peak split into components (``summary.attribution``), side by side.

    One horizontal bar per run; a component has the same colour in every run.
    """
    runs = {label: a for label, a in attributions.items() if a and a.get("components") is not None}
    if not runs:
        return _empty(
            "None of these runs has a memory attribution (it needs the probe).", height=height or 260
        )
    # A part that held nothing in any run only lengthens the legend (the tables list it).
    pairs = [
        (c["name"], c.get("kind", "other"))
        for a in runs.values()
        for c in a["components"]
        if c.get("bytes") and c["name"] != UNATTRIBUTED
    ]
    order = _stack_order(pd.DataFrame(pairs, columns=["name", "kind"]))
    colours = component_colours(order)
    labels = list(runs)
    fig = go.Figure()
    for name in [*(n for n, _ in order), UNATTRIBUTED]:
        values = []
        for a in runs.values():
            if name == UNATTRIBUTED:
                values.append(float(a.get("unattributed_bytes") or 0) / MIB)
            else:
                values.append(sum(float(c["bytes"]) for c in a["components"] if c["name"] == name) / MIB)
        fig.add_trace(
            go.Bar(
                y=labels,
                x=values,
                name=name,
                orientation="h",
                marker=dict(
                    color=colours[name],
                    pattern=dict(shape="/", fgcolor="#4b5563", bgcolor="#e5e7eb")
                    if name == UNATTRIBUTED
                    else None,
                ),
                hovertemplate=f"{name}: %{{x:,.1f}} MiB<extra>%{{y}}</extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            y=labels,
            x=[float(a.get("overhead_bytes") or 0) / MIB for a in runs.values()],
            name="measured overhead (peak − baseline)",
            mode="markers",
            marker=dict(
                color=TOTAL_COLOUR, size=14, symbol="line-ns", line=dict(width=3, color=TOTAL_COLOUR)
            ),
            hovertemplate="overhead %{x:,.1f} MiB<extra>%{y}</extra>",
        )
    )
    fig.update_layout(barmode="relative")
    fig.update_xaxes(title_text="memory above baseline at the peak (MiB)")
    fig.update_yaxes(autorange="reversed", automargin=True)
    # Tall enough for the legend beside the bars (about 20 px a part plus the margins): no scrolling.
    entries = len(order) + 2
    _layout(
        fig,
        height=height or max(170 + 55 * len(labels), 170 + 24 * entries),
        title="Memory above baseline at each run's peak, by component",
    )
    fig.update_layout(
        hovermode="closest",
        margin=dict(r=LEGEND_MARGIN),
        legend=dict(orientation="v", x=1.01, xanchor="left", y=1.0, yanchor="top"),
    )
    return fig
