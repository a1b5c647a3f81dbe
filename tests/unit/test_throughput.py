"""One throughput figure per run (issue 13, items 7 and 8): defined once, stable or saying why not."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from diagnostics import analysis, report, sweep, throughput, views
from diagnostics.export import run_json
from diagnostics.store import Store
from diagnostics.units import format_rate
from tests.synthetic import run_frames

MiB = 1024**2


def epochs(*pairs):
    return [{"index": i, "images": n, "seconds": s} for i, (n, s) in enumerate(pairs)]


def test_median_over_epochs_after_the_first_with_min_max_spread():
    result = throughput.measure(epochs((100, 4.0), (300, 1.0), (300, 1.5), (300, 1.2)))
    assert result["images_per_second"] == pytest.approx(250.0)  # median of 300, 200, 250
    assert (result["min"], result["max"]) == (pytest.approx(200.0), pytest.approx(300.0))
    assert result["epochs_used"] == [2, 3, 4]
    assert result["stable"] and result["reason"] == ""


def test_a_cached_epoch_of_milliseconds_is_not_stable_and_says_why():
    result = throughput.measure(epochs((242, 0.9), (242, 0.0024)))
    assert result["images_per_second"] == pytest.approx(100_833, rel=0.01)
    assert not result["stable"]
    assert "2.4 ms" in result["reason"] and "1 s" in result["reason"]


def test_one_epoch_or_few_images_is_not_stable():
    assert "only epoch 1" in throughput.measure(epochs((500, 3.0)))["reason"]
    few = throughput.measure(epochs((10, 2.0), (10, 2.0)))
    assert not few["stable"] and "10 images" in few["reason"]
    assert throughput.measure([])["images_per_second"] is None


def test_compare_refuses_overlapping_ranges_and_unstable_timings():
    a = throughput.measure(epochs((300, 2.0), (300, 1.0), (300, 1.5)))  # 200-300
    b = throughput.measure(epochs((300, 2.0), (300, 1.2), (300, 1.1)))  # 250-273
    assert not throughput.compare(a, b)["measurable"]
    assert "overlap" in throughput.compare(a, b)["reason"]
    fast = throughput.measure(epochs((3000, 2.0), (3000, 1.0), (3000, 1.0)))
    assert throughput.compare(fast, a)["measurable"]
    short = throughput.measure(epochs((300, 1.0), (300, 0.002)))
    assert not throughput.compare(short, a)["measurable"]
    assert "too short" in throughput.compare(short, a)["reason"]


def _store_run(store, dataset):
    """A completed run whose epoch 1 is slow: all-epoch mean 75 img/s, steady median 100 img/s."""
    config = {"dataset": dataset, "loader": "keras_directory", "mode": "iterate", "epochs": 3}
    run_id = store.create_run(config, {"root": dataset, "num_images": 300})
    events = [{"t": 1.0, "kind": "ready", "data": {"rss_bytes": 500 * MiB}}]
    t = 1.0
    for i, seconds in enumerate((2.0, 1.0, 1.0)):
        events.append({"t": t, "kind": "epoch_start", "data": {"epoch": i}})
        t += seconds
        events.append({"t": t, "kind": "epoch_end", "data": {"epoch": i, "images": 100, "seconds": seconds}})
    events.append({"t": t, "kind": "done", "data": {"vmhwm_bytes": 600 * MiB}})
    frame = pd.DataFrame(events)
    summary = analysis.summarise({"config": config, "status": "completed"}, None, frame)
    store.update_run(run_id, status="completed", summary=summary, findings=[])
    return run_id


def test_every_view_shows_the_same_throughput(tmp_path):
    store = Store(tmp_path / "home")
    run_id = _store_run(store, str(tmp_path))
    other = _store_run(store, str(tmp_path))
    run = store.get_run(run_id)
    expected = throughput.images_per_second(run["summary"])
    assert expected == pytest.approx(100.0)
    # Run page headline
    rate = next(v for label, v, _ in views.run.headline_metrics(run) if label == "Throughput")
    assert rate == format_rate(expected)
    # History table, CSV export (list_runs) and the JSON export
    listed = store.list_runs().set_index("id")
    assert listed.loc[run_id, "images_per_second"] == pytest.approx(expected)
    assert run_json(store, run_id)["summary"]["images_per_second"] == pytest.approx(expected)
    # the stored summary itself
    assert run["summary"]["images_per_second"] == pytest.approx(expected)
    # Compare table and the HTML report (one run and a comparison)
    assert views.compare.compare_row(run, "a")["images/s"] == format_rate(expected)
    page = report.render_html(store, [run_id, other])
    assert page.count(format_rate(expected)) >= 4 and "75.0 img/s" not in page
    # sweep rows
    store.update_run(run_id, summary={**run["summary"], "peak_rss_bytes": 600 * MiB})
    sweep_id = store.create_sweep("s", {"batch_size": [32]}, run["config"])
    store._query("UPDATE runs SET sweep_id = ? WHERE id = ?", (sweep_id, run_id))
    row = sweep.sweep_result(store, sweep_id, 10**12)["rows"][0]
    assert sweep.result._throughput(row) == pytest.approx(expected)


def test_help_text_carries_the_definition():
    run = {"summary": {"epochs": epochs((100, 2.0), (100, 1.0))}}
    help_text = next(h for label, _, h in views.run.headline_metrics(run) if label == "Throughput")
    assert throughput.DEFINITION in help_text


def test_throughput_frame_rates():
    _, events = run_frames(epochs=2, seconds_per_epoch=2.0)
    rates = throughput.throughput_frame(events, 100.0)
    assert set(rates["epoch"]) == {1, 2}
    assert rates["images_per_second"].iloc[1] == pytest.approx(300, rel=0.01)


def test_epoch_means_span_each_epoch_at_its_images_over_seconds():
    _, events = run_frames(epochs=2, seconds_per_epoch=2.0)
    means = throughput.epoch_means(events, 100.0)
    assert [(round(a, 2), round(b, 2)) for a, b, _ in means] == [(0.01, 2.0), (2.01, 4.0)]
    assert [rate for _, _, rate in means] == pytest.approx([600 / 1.99] * 2)
    assert throughput.epoch_means(events.assign(data=events["data"].map(json.dumps)), 100.0) == means
    assert throughput.event_data("not json") == {} and throughput.event_data(None) == {}
