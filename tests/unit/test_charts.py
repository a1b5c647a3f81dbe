"""Figures of diagnostics/charts (run, compare, sweep, dataset), on synthetic frames (no Streamlit, no TF)."""

from __future__ import annotations

import pandas as pd
import pytest

from diagnostics import charts, views
from diagnostics.dataset import FolderCounts
from tests.synthetic import MIB, run_frames


def _trace(fig, name_start):
    return next(t for t in fig.data if (t.name or "").startswith(name_start))


def test_memory_throughput_figure_has_units_lines_and_epoch_marks():
    samples, events = run_frames(epochs=3, workers=2)
    fig = charts.memory_throughput_figure(samples, events, baseline_bytes=560 * MIB, budget_bytes=1200 * MIB)
    assert fig.layout.yaxis.title.text == "memory: tree RSS (MiB)"
    assert fig.layout.yaxis2.title.text == "throughput (images/s)"
    assert fig.layout.xaxis2.title.text == "seconds since ready (s)"
    total = _trace(fig, "RSS total")
    assert max(total.y) == pytest.approx(samples["rss_bytes"].max() / MIB)
    assert min(total.x) == pytest.approx(-1.0, abs=0.05)  # time is relative to ready at t=100
    assert len([t for t in fig.data if (t.name or "").startswith("pid ")]) == 3
    assert _trace(fig, "baseline").y[0] == pytest.approx(560)
    assert _trace(fig, "memory budget").y[0] == pytest.approx(1200)
    labels = [a.text for a in fig.layout.annotations if (a.text or "").startswith("epoch")]
    assert labels == ["epoch 1", "epoch 2", "epoch 3"]
    rates = [y for y in _trace(fig, "images/s").y if y is not None]
    # 600 images per 2 s epoch, 8 steps: 75 images per 0.25 s = 300 img/s (first interval a bit faster).
    assert pytest.approx(300, rel=0.05) == sorted(rates)[len(rates) // 2]
    assert _trace(fig, "images/s").legend == "legend2"


def test_memory_figure_without_samples_says_so():
    fig = charts.memory_throughput_figure(pd.DataFrame(), pd.DataFrame(columns=["t", "kind", "data"]))
    assert "No memory samples yet" in fig.layout.annotations[0].text


def test_single_process_tree_draws_no_per_process_lines():
    samples, events = run_frames(workers=0)
    fig = charts.memory_throughput_figure(samples, events)
    assert not [t for t in fig.data if (t.name or "").startswith("pid ")]


def test_thinning_keeps_the_true_peak():
    samples, events = run_frames(epochs=3, hz=400)
    samples.loc[777, "rss_bytes"] = 5000 * MIB
    fig = charts.memory_throughput_figure(samples, events)
    total = _trace(fig, "RSS total")
    assert len(total.x) <= charts.MAX_POINTS + 1
    assert max(total.y) == pytest.approx(5000)


def test_pareto_and_compare_figures():
    points = pd.DataFrame(
        [
            {"id": 1, "label": "a", "peak_rss_bytes": 700 * MIB, "images_per_second": 300, "on_front": True},
            {"id": 2, "label": "b", "peak_rss_bytes": 900 * MIB, "images_per_second": 500, "on_front": True},
            {"id": 3, "label": "c", "peak_rss_bytes": 950 * MIB, "images_per_second": 350, "on_front": False},
        ]
    )
    fig = charts.pareto_figure(points, budget_bytes=1000 * MIB, recommended_id=2)
    assert list(_trace(fig, "Pareto front").x) == [700, 900]
    assert list(_trace(fig, "recommended").y) == [500]
    assert fig.layout.xaxis.title.text == "peak RSS (MiB)"
    s1, e1 = run_frames()
    s2, _ = run_frames(t_ready=500.0)
    fig = charts.compare_memory_figure({"one": (s1, 100.0), "two": (s2, 500.0)})
    assert min(fig.data[0].x) == pytest.approx(min(fig.data[1].x), abs=0.05)  # both aligned at ready
    epochs = views.compare.epochs_frame({"one": {"epochs": [{"index": 0, "images_per_second": 10.0}]}})
    fig = charts.compare_throughput_figure(epochs)
    assert list(fig.data[0].y) == [10.0]


def test_dataset_figures():
    counts = FolderCounts(files={"a": 3, "b": 7}, unreadable={"a": 0, "b": 2}, readable={"a": 3, "b": 5})
    fig = charts.class_counts_figure(counts)
    assert list(fig.data[0].y) == [3, 5] and list(fig.data[1].y) == [0, 2]  # stacked: files per class
    assert list(fig.data[2].text) == ["3 files", "7 files"]
    assert len(charts.pixel_size_figure([(100, 200), (300, 120)]).data) == 2
    fig = charts.formats_figure({"JPEG": 4, "PNG": 2}, {"RGB": 5, "L": 1})
    assert list(fig.data[1].x) == ["RGB", "L"]


def test_a_budget_far_above_the_run_stays_off_the_axis():
    samples, events = run_frames()
    fig = charts.memory_throughput_figure(samples, events, budget_bytes=28_000 * MIB)
    assert fig.layout.yaxis.range[1] < 2000  # MiB: the curves keep the height of the panel
    assert _trace(fig, "memory budget").name == "memory budget 28,000 MiB (above the chart)"
    fig = charts.memory_throughput_figure(samples, events, budget_bytes=1200 * MIB)
    assert fig.layout.yaxis.range[1] >= 1200


def test_short_epochs_keep_their_lines_but_labels_never_overlap():
    samples, events = run_frames(epochs=60, seconds_per_epoch=0.1)
    fig = charts.memory_throughput_figure(samples, events)
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    labels = [a for a in fig.layout.annotations if (a.text or "").startswith("epoch")]
    assert len(lines) == 2 * 60  # one per epoch in each panel
    assert 2 <= len(labels) < 60
    span = fig.layout.xaxis.range[1] - fig.layout.xaxis.range[0]
    for row in (0, 15):
        xs = sorted(a.x for a in labels if a.yshift == row)
        assert all(b - a >= 0.05 * span for a, b in zip(xs, xs[1:], strict=False))


def test_the_import_phase_is_trimmed_from_the_default_view():
    samples, events = run_frames(epochs=2, seconds_per_epoch=0.3)
    samples = pd.concat([samples.assign(t=samples["t"] - 20).head(50), samples])  # 20 s of imports
    fig = charts.memory_throughput_figure(samples, events)
    assert -1.0 <= fig.layout.xaxis.range[0] < 0


def test_the_memory_axis_spans_the_data_not_zero():
    # A few MiB over a ~600 MiB baseline must stay visible: the axis starts near the baseline.
    samples, events = run_frames()
    fig = charts.memory_throughput_figure(samples, events, baseline_bytes=int(samples["rss_bytes"].min()))
    low, high = fig.layout.yaxis.range
    shown = samples["rss_bytes"] / MIB
    assert 0 < low <= shown.min()
    assert high >= shown.max()
    assert low > 0.5 * shown.min()


def test_pareto_stays_readable_when_one_point_is_100x_the_others():
    # issue 13 item 7: one 2.4 ms cached epoch gave 100,750 images/s next to trials at ~300.
    points = pd.DataFrame(
        [
            {
                "id": i,
                "label": f"#{i}",
                "peak_rss_bytes": (700 + 50 * i) * MIB,
                "images_per_second": r,
                "on_front": f,
            }
            for i, r, f in ((1, 300, True), (2, 320, False), (3, 100_750, True), (4, 280, False))
        ]
    )
    fig = charts.pareto_figure(points)
    assert fig.layout.yaxis.type == "log"
    assert "log scale" in fig.layout.yaxis.title.text
    notes = [a.text for a in fig.layout.annotations]
    assert any("360x" in (text or "") for text in notes)  # says how far apart the points are
    # Near-equal points keep the plain linear axis.
    plain = charts.pareto_figure(points[points["id"] != 3])
    assert plain.layout.yaxis.type in (None, "linear", "-")
    # A point whose timing is not stable is drawn apart and named as such.
    marked = charts.pareto_figure(points.assign(stable=points["id"] != 3, on_front=points["id"] == 1))
    assert list(_trace(marked, "timing too short").y) == [100_750]
    assert 100_750 not in list(_trace(marked, "dominated").y)


def test_a_run_stopped_before_ready_has_no_baseline_and_keeps_its_time_axis():
    # A budget kill while importing: the summary's "baseline" is the first sample (28 MiB).
    samples = pd.DataFrame(
        [{"t": 10 + i * 0.02, "rss_bytes": (28 + 8 * i) * MIB, "main_rss_bytes": (28 + 8 * i) * MIB,
          "processes": {"77": (28 + 8 * i) * MIB}} for i in range(150)]
    )  # fmt: skip
    events = pd.DataFrame(columns=["t", "kind", "data"])
    fig = charts.memory_throughput_figure(
        samples, events, baseline_bytes=28 * MIB, budget_bytes=1200 * MIB, peak_bytes=1220 * MIB
    )
    assert not [t for t in fig.data if "baseline" in (t.name or "")]
    # The titled time axis is the throughput panel's: plotly draws it only with a trace on it.
    assert fig.layout.xaxis2.title.text == "seconds since the first sample (s)"
    assert [t for t in fig.data if t.xaxis == "x2"]


def test_epoch_labels_of_a_fast_run_never_overlap_on_the_log_timeline():
    # Epochs of 0.1 s, log lines from the imports 8 s before ready: the axis spans 8 s.
    _, events = run_frames(epochs=4, seconds_per_epoch=0.1)
    group = {"template": "a log line", "known": True, "times": [92.0, 95.0, 100.05, 100.3]}
    fig = charts.log_timeline_figure([group], events, 100.0)
    labels = [a for a in fig.layout.annotations if (a.text or "").startswith("epoch")]
    assert labels
    shown = fig.layout.xaxis.range or (-8.0, 0.3)  # autorange spans the log lines at least
    span = shown[1] - shown[0]
    for row in {a.yshift for a in labels}:
        xs = sorted(a.x for a in labels if a.yshift == row)
        assert all(b - a >= 0.05 * span for a, b in zip(xs, xs[1:], strict=False)), (row, xs, span)
