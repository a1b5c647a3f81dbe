"""Pipeline X-ray views (issue 11): the stacked attribution, AUTOTUNE and stage tables, on frames.

No Streamlit, no TensorFlow: synthetic frames shaped like ``analysis.attribution_frame`` /
``autotune_frame`` and a summary shaped like issue 11 section 6 (tests/app/synthetic.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diagnostics import charts, views
from tests.app.synthetic import CACHE, MIB, PREFETCH, SHUFFLE, run_frames, xray_frames, xray_summary

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


def test_attribution_rows_always_end_with_unattributed():
    summary = xray_summary()
    rows = views.xray.attribution_rows(summary["attribution"])
    assert [r["component"] for r in rows][:2] == [CACHE, SHUFFLE]  # largest first
    assert rows[-1] == {
        "component": "unattributed",
        "kind": "other",
        "MiB": 16.0,
        "share of overhead": "5%",
        "how it was measured": "not explained by the parts above",
    }
    assert rows[1]["how it was measured"] == "Shuffle"
    split = {**summary["attribution"], "unattributed_split": {"detail": "malloc heap in use grew 20 MiB"}}
    assert views.xray.attribution_rows(split)[-1]["how it was measured"] == "malloc heap in use grew 20 MiB"
    assert rows[0]["kind"] == "tf.data stage" and rows[0]["share of overhead"] == "67%"
    # Components listing unattributed themselves: still one row, still last.
    listed = {**summary["attribution"], "unattributed_bytes": None}
    listed["components"] = [
        *listed["components"],
        {"name": "unattributed", "kind": "other", "bytes": 16 * MIB},
    ]
    assert [r["component"] for r in views.xray.attribution_rows(listed)].count("unattributed") == 1
    assert views.xray.attribution_rows(listed)[-1]["MiB"] == 16.0


def test_negative_unattributed_is_said_not_hidden():
    attribution = {**xray_summary()["attribution"], "unattributed_bytes": -10 * MIB}
    assert views.xray.attribution_rows(attribution)[-1]["MiB"] == -10.0
    assert "exceed it by 10.0 MiB" in views.xray.attribution_caption(attribution)
    assert "5% of it is unattributed" in views.xray.attribution_caption(xray_summary()["attribution"])


def test_top_components_text():
    text = views.xray.top_components_text(xray_summary()["attribution"], n=2)
    assert text == f"{CACHE} 200.0 MiB (67%), {SHUFFLE} 58.0 MiB (19%); unattributed 16.0 MiB (5%)"
    assert views.xray.top_components_text(None) == "–"


def test_stage_rows_and_bound_sentence():
    summary = xray_summary()
    rows = views.xray.stage_rows(summary["pipeline"])
    # Output first in the summary, source first (as in the code) in the table.
    assert [r["stage"] for r in rows] == ["parallel map in flight", CACHE, SHUFFLE, PREFETCH]
    shuffle = rows[2]
    assert shuffle["your code"] == "dataset = dataset.shuffle(300)"
    assert (shuffle["buffered now (MiB)"], shuffle["buffered peak (MiB)"]) == (49.0, 58.0)
    assert shuffle["elements now / peak"] == "250 / 299" and shuffle["share of time"] == "5%"
    assert rows[0]["own rate"] == "310 img/s"
    assert rows[0]["AUTOTUNE"] == "parallelism 4" and rows[1]["AUTOTUNE"] == "–"
    sentence = views.xray.bound_sentence(summary)
    assert "**parallel map in flight**, at 310 img/s on its own" in sentence
    fit = {
        "pipeline": {
            **summary["pipeline"],
            "bound": {
                "kind": "input",
                "detail": "training waited 1.20 s of 3.00 s (40%) for the next batch: input-bound",
            },
        }
    }
    assert (
        "Training is **input-bound**: training waited 1.20 s of 3.00 s (40%) for the next batch."
        in views.xray.bound_sentence(fit)
    )
    assert views.xray.bound_sentence({"pipeline": None}) == views.xray.NO_TFDATA_NOTE
    assert "needs tf.data" in views.xray.NO_TFDATA_NOTE


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


def test_the_caption_leaves_needs_tfdata_to_the_stage_section_and_keeps_other_notes():
    attribution = {
        **xray_summary()["attribution"],
        "note": "The peak fell between snapshots. " + views.xray.NO_TFDATA_NOTE,
    }
    caption = views.xray.attribution_caption(attribution)
    assert "needs tf.data" not in caption and "The peak fell between snapshots." in caption
    assert "needs tf.data" in views.xray.bound_sentence({"pipeline": None})


def test_html_report_has_the_attribution_chart_table_and_stages(tmp_path):
    from diagnostics.report import render_html
    from diagnostics.store import Store
    from tests.app.synthetic import store_probe_fixture

    store = Store(tmp_path)
    one = store_probe_fixture(store, "cache_shuffle")
    two = store_probe_fixture(store, "autotune")
    html = render_html(store, [one])
    assert "<h3>Where the memory is</h3>" in html and "Memory above baseline, by component" in html
    assert "<td>in-memory cache</td>" in html and "<td>unattributed</td>" in html
    assert "<h3>Pipeline stages</h3>" in html and "<td>dataset = dataset.cache()</td>" in html
    assert "The slowest stage is <b>" in html
    comparison = render_html(store, [one, two])
    assert "Memory above baseline at each run's peak, by component" in comparison  # the figure's JSON
    assert "<th>top components</th>" in comparison
