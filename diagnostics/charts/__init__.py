"""Plotly figures as pure functions of the store's frames (see docs/INTERNALS.md, Store).

Every figure puts time as seconds since the worker's ``ready`` event (``t - t_ready``), memory in
MiB and throughput in images/s, with axis titles carrying those units. Nothing here reads the
store or talks to Streamlit, so the dashboard and the HTML report draw the same figures. One module
per view (``run``, ``compare``, ``sweep``, ``model``, ``logs``, ``dataset``, ``xray``) over the
shared look in ``style``; the rates they draw are derived in ``diagnostics.throughput``.
"""

from __future__ import annotations

from diagnostics.charts.compare import compare_memory_figure, compare_throughput_figure
from diagnostics.charts.dataset import class_counts_figure, formats_figure, pixel_size_figure
from diagnostics.charts.logs import log_timeline_figure
from diagnostics.charts.model import memory_model_figure
from diagnostics.charts.run import memory_throughput_figure
from diagnostics.charts.style import MAX_POINTS, epoch_marks, run_colour
from diagnostics.charts.sweep import pareto_figure
from diagnostics.charts.xray import (
    KIND_COLOURS,
    attribution_figure,
    attribution_wide,
    autotune_figure,
    compare_attribution_figure,
    component_colours,
)

__all__ = [
    "KIND_COLOURS",
    "MAX_POINTS",
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
    "run_colour",
]
