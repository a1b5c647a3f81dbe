"""Pipeline X-ray figures: where the memory is (the attribution stack over time and at each run's
peak) and what AUTOTUNE chose over time; a component keeps its kind's colour on every figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from diagnostics.charts.style import (
    LEGEND_MARGIN,
    NARROW_PLOT_FACTOR,
    PALETTE,
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
from diagnostics.throughput import event_data
from diagnostics.units import MiB

__all__ = [
    "KIND_COLOURS",
    "KIND_ORDER",
    "PARAMETER_UNITS",
    "UNATTRIBUTED",
    "UNATTRIBUTED_COLOUR",
    "attribution_figure",
    "attribution_wide",
    "autotune_figure",
    "compare_attribution_figure",
    "component_colours",
]

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
    value = event_data(ready["data"].iloc[0]).get("rss_bytes") if not ready.empty else None
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
        return empty("No memory samples yet: the trial is queued or starting.", height=height)
    t0 = ready_time(events, t_ready)
    baseline = _baseline(events, baseline_bytes)
    frame = thin(samples.sort_values("t").reset_index(drop=True)) if samples is not None else None
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
                y=wide[name].to_numpy() / MiB,
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
                y=overhead.to_numpy() / MiB,
                name=f"RSS over baseline ({baseline / MiB:,.0f} MiB at ready)",
                mode="lines",
                line=dict(color=TOTAL_COLOUR, width=2.2),
                hovertemplate="%{y:,.1f} MiB",
            )
        )
    shown = frame["t"] - t0 if frame is not None and not frame.empty else pd.Series(x)
    window = x_window(shown)
    fig.update_xaxes(range=list(window), title_text="seconds since ready (s)")
    add_epoch_marks(fig, epoch_marks(events, t0), (window[1] - window[0]) * NARROW_PLOT_FACTOR)
    add_done_mark(fig, events, t0)
    fig.update_yaxes(title_text="memory above baseline (MiB)", zeroline=True, zerolinecolor="#9ca3af")
    layout(fig, height=height, title=title)
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
        return empty(
            "No AUTOTUNE parameters in this pipeline (nothing set to AUTOTUNE).", height=height or 200
        )
    t0 = ready_time(events, t_ready)
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
    add_epoch_marks(fig, epoch_marks(events, t0), span * NARROW_PLOT_FACTOR if span else None)
    layout(fig, height=height or 120 + 170 * len(parameters), title="AUTOTUNE's choices over time")
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
        return empty(
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
                values.append(float(a.get("unattributed_bytes") or 0) / MiB)
            else:
                values.append(sum(float(c["bytes"]) for c in a["components"] if c["name"] == name) / MiB)
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
            x=[float(a.get("overhead_bytes") or 0) / MiB for a in runs.values()],
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
    layout(
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
