"""Pipeline X-ray figures (issue 11, diagnostics/charts/xray.py): the stacked attribution and AUTOTUNE.

No Streamlit, no TensorFlow: synthetic frames shaped like ``analysis.attribution_frame`` /
``autotune_frame`` and a summary shaped like issue 11 section 6 (tests/synthetic.py). The tables
and sentences of the X-ray views are in test_views_xray.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diagnostics import charts
from tests.synthetic import CACHE, MIB, SHUFFLE, run_frames, xray_frames, xray_summary

STACKED = "components"


def _stacked(fig):
    return [t for t in fig.data if t.stackgroup == STACKED]


def test_stacked_components_and_unattributed_sum_to_the_rss_overhead_at_each_snapshot():
    samples, events = run_frames(epochs=3)
    attribution, _ = xray_frames(samples, events)
    fig = charts.attribution_figure(attribution, samples, events, baseline_bytes=560 * MIB)
    stacked = _stacked(fig)
    names = [t.name for t in stacked]
    assert names[-1] == "unattributed"  # on top, right under the RSS line
    assert {CACHE, SHUFFLE, "library code pages", "allocator free"} <= set(names)
    top = np.sum([np.asarray(t.y, dtype=float) for t in stacked], axis=0)
    x = np.asarray(stacked[0].x, dtype=float)
    # At ready every part is zero by definition; the snapshots follow.
    assert x[0] == 0 and top[0] == 0 and all(t.y[0] == 0 for t in stacked)
    x, top = x[1:], top[1:]
    rss = samples.set_index(samples["t"] - 100.0)["rss_bytes"]
    nearest = [rss.iloc[int(np.abs(rss.index.to_numpy() - t).argmin())] for t in x]
    overhead = (np.asarray(nearest) - 560 * MIB) / MIB
    assert top == pytest.approx(overhead, abs=1e-6)
    line = next(t for t in fig.data if t.name.startswith("RSS over baseline"))
    assert line.stackgroup is None and max(line.y) == pytest.approx(samples["rss_bytes"].max() / MIB - 560)
    assert min(line.x) >= 0  # an overhead over the ready RSS starts at ready, not in the imports
    assert fig.layout.yaxis.title.text == "memory above baseline (MiB)"
    assert fig.layout.xaxis.title.text == "seconds since ready (s)"
    labels = [a.text for a in fig.layout.annotations if (a.text or "").startswith("epoch")]
    assert labels == ["epoch 1", "epoch 2", "epoch 3"]


def test_the_stack_orders_kinds_and_keeps_colours_per_kind():
    samples, events = run_frames()
    attribution, _ = xray_frames(samples, events)
    fig = charts.attribution_figure(attribution, samples, events)
    stacked = {t.name: t for t in _stacked(fig)}
    assert list(stacked)[0] == "library code pages"  # fixed costs at the bottom
    assert stacked[CACHE].fillcolor in charts.KIND_COLOURS["tfdata_stage"]
    assert stacked[SHUFFLE].fillcolor in charts.KIND_COLOURS["tfdata_stage"]
    assert stacked[CACHE].fillcolor != stacked[SHUFFLE].fillcolor
    assert stacked["allocator free"].fillcolor in charts.KIND_COLOURS["allocator_free"]
    assert stacked["unattributed"].fillpattern.shape == "/"  # hatched: unexplained, never hidden
    # The same component keeps its colour on the Compare figure.
    compare = charts.compare_attribution_figure({"a": xray_summary()["attribution"]})
    bars = {t.name: t for t in compare.data if t.type == "bar"}
    assert bars[CACHE].marker.color == stacked[CACHE].fillcolor


def test_unattributed_band_is_there_when_the_frame_lacks_it_or_is_empty():
    samples, events = run_frames()
    attribution, _ = xray_frames(samples, events)
    partial = attribution[attribution["name"] != "unattributed"]
    fig = charts.attribution_figure(partial, samples, events)
    rest = next(t for t in _stacked(fig) if t.name == "unattributed")
    full = charts.attribution_figure(attribution, samples, events)
    expected = next(t for t in _stacked(full) if t.name == "unattributed")
    # Derived from the RSS line (interpolated), it agrees with the frame's own within the noise.
    assert np.asarray(rest.y) == pytest.approx(np.asarray(expected.y), abs=8)
    empty = charts.attribution_figure(pd.DataFrame(columns=["t", "name", "kind", "bytes"]), samples, events)
    only = _stacked(empty)
    assert [t.name for t in only] == ["unattributed"]
    assert max(only[0].y) == pytest.approx(samples["rss_bytes"].max() / MIB - 560)
    assert "all of the overhead is unattributed" in empty.layout.title.text


def test_attribution_figure_shares_the_memory_figures_time_window():
    samples, events = run_frames()
    attribution, _ = xray_frames(samples, events)
    memory = charts.memory_throughput_figure(samples, events)
    fig = charts.attribution_figure(attribution, samples, events)
    assert list(fig.layout.xaxis.range) == pytest.approx(list(memory.layout.xaxis.range))


def test_autotune_figure_has_a_step_line_per_stage_and_a_panel_per_parameter():
    samples, events = run_frames()
    _, autotune = xray_frames(samples, events)
    fig = charts.autotune_figure(autotune, events, x_range=[-0.5, 6.5])
    names = {t.name: t for t in fig.data}
    assert set(names) == {"ParallelMapV2: parallelism", "Prefetch: buffer_size"}
    assert all(t.line.shape == "hv" for t in fig.data)
    assert max(names["ParallelMapV2: parallelism"].y) == 4
    assert fig.layout.yaxis.title.text == "parallelism (threads)"
    assert fig.layout.yaxis2.title.text == "buffer_size (elements)"
    assert list(fig.layout.xaxis.range) == [-0.5, 6.5]
    empty = charts.autotune_figure(pd.DataFrame(columns=["t", "stage", "parameter", "value"]), events)
    assert "No AUTOTUNE" in empty.layout.annotations[0].text


def test_compare_attribution_puts_runs_side_by_side():
    one = xray_summary()["attribution"]
    two = {**one, "components": one["components"][1:], "unattributed_bytes": 216 * MIB}
    fig = charts.compare_attribution_figure({"#1": one, "#2": two, "#3": None})
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    assert list(bars["unattributed"].y) == ["#1", "#2"]  # a run without attribution is left out
    assert list(bars["unattributed"].x) == [16, 216]
    assert list(bars[CACHE].x) == [200, 0]
    assert fig.layout.xaxis.title.text == "memory above baseline at the peak (MiB)"


def test_components_that_never_held_memory_stay_out_of_the_chart_but_unattributed_stays():
    samples, events = run_frames()
    attribution, _ = xray_frames(samples, events)
    empty_stage = attribution[attribution["name"] == CACHE].assign(name="batch", bytes=0.0)
    frame = pd.concat([attribution, empty_stage])
    frame.loc[frame["name"] == "unattributed", "bytes"] = 0.0
    names = [t.name for t in _stacked(charts.attribution_figure(frame, samples, events))]
    assert "batch" not in names and CACHE in names
    assert names[-1] == "unattributed"


def test_the_run_figures_line_up_on_the_page():
    samples, events = run_frames()
    attribution, autotune = xray_frames(samples, events)
    memory = charts.memory_throughput_figure(samples, events)
    stacked = charts.attribution_figure(attribution, samples, events)
    tuned = charts.autotune_figure(autotune, events, x_range=stacked.layout.xaxis.range)
    # Same margins and x range: at the same width, a second is at the same pixel on each.
    for fig in (stacked, tuned):
        assert (fig.layout.margin.l, fig.layout.margin.r) == (memory.layout.margin.l, memory.layout.margin.r)
        assert list(fig.layout.xaxis.range) == pytest.approx(list(memory.layout.xaxis.range))
