"""A run's memory model: the modelled components stacked next to the measured overhead."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from diagnostics.charts.style import PALETTE, empty, layout
from diagnostics.units import MiB

__all__ = ["memory_model_figure"]


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
        return empty("No memory model for this run.", height=height)
    fig = go.Figure()
    for i, (name, value) in enumerate(sorted(components.items(), key=lambda kv: -kv[1])):
        fig.add_trace(
            go.Bar(
                y=["modelled"],
                x=[value / MiB],
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
                x=[measured_overhead_bytes / MiB],
                name="measured (peak − baseline)",
                orientation="h",
                marker_color="#374151",
                text=[f"{measured_overhead_bytes / MiB:,.0f} MiB"],
                textposition="auto",
                hovertemplate="measured: %{x:,.1f} MiB<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="memory above baseline (MiB)", rangemode="tozero")
    fig.update_yaxes(categoryorder="array", categoryarray=["measured", "modelled"])
    layout(fig, height=height, title="Memory model vs measured")
    fig.update_layout(hovermode="closest", margin=dict(l=90), legend=dict(traceorder="normal"))
    return fig
