"""The Dataset page's figures of a scan: files per class, pixel sizes, file formats and modes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from diagnostics.charts.style import PALETTE, empty, layout
from diagnostics.dataset.result import FolderCounts

__all__ = ["class_counts_figure", "formats_figure", "pixel_size_figure"]


def class_counts_figure(counts: FolderCounts, *, height: int = 360) -> go.Figure:
    """Files per class (``dataset.folder_counts``): readable (or, before verification, not yet
    ruled out) and unreadable stacked, so each bar is the class's file count the page quotes."""
    if not counts.files:
        return empty("No classes found.", height=height)
    classes = list(counts.files)
    unreadable = [counts.unreadable.get(c, 0) for c in classes]
    good = [counts.files[c] - counts.unreadable.get(c, 0) for c in classes]
    good_name = "readable" if counts.verified else "listed (not verified yet)"
    bad_name = "unreadable" if counts.verified else "unreadable by name"
    fig = go.Figure()
    for name, values, colour in ((good_name, good, PALETTE[0]), (bad_name, unreadable, PALETTE[4])):
        fig.add_trace(
            go.Bar(
                x=classes,
                y=values,
                name=name,
                marker_color=colour,
                text=[v or "" for v in values],
                textposition="inside",
                hovertemplate=f"%{{x}}: %{{y}} {name}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=classes,
            y=list(counts.files.values()),
            mode="text",
            text=[f"{n:,} files" for n in counts.files.values()],
            textposition="top center",
            showlegend=False,
            hoverinfo="skip",
            cliponaxis=False,
        )
    )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="class (sub-folder)")
    fig.update_yaxes(title_text="files", rangemode="tozero")
    layout(fig, height=height, title="Files per class")
    fig.update_layout(hovermode="closest")
    return fig


def pixel_size_figure(sizes: Sequence[Sequence[int]], *, height: int = 360) -> go.Figure:
    if not sizes:
        return empty("No readable images.", height=height)
    widths = [int(s[0]) for s in sizes]
    heights = [int(s[1]) for s in sizes]
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=widths, name="width", marker_color=PALETTE[0], opacity=0.7, nbinsx=30))
    fig.add_trace(go.Histogram(x=heights, name="height", marker_color=PALETTE[1], opacity=0.7, nbinsx=30))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="pixels")
    fig.update_yaxes(title_text="images")
    layout(fig, height=height, title="Pixel sizes")
    fig.update_layout(hovermode="closest")
    return fig


def formats_figure(
    formats: Mapping[str, int], channel_modes: Mapping[str, int], *, height: int = 360
) -> go.Figure:
    if not formats and not channel_modes:
        return empty("No readable images.", height=height)
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
    layout(fig, height=height)
    fig.update_layout(showlegend=False, hovermode="closest", margin=dict(t=50))
    return fig
