"""Whose stage it is (issue 18 item 8): a prefetch Keras or tf.data added is never shown as the
run's own, on captured real trials re-analysed from the store."""

from __future__ import annotations

from diagnostics.analysis import analyze_run
from diagnostics.store import Store
from diagnostics.views.xray import stage_rows
from tests.synthetic import store_probe_fixture

KERAS = "added by Keras, not by your options"


def _prefetch(home, fixture):
    store = Store(home)
    summary = analyze_run(store, store_probe_fixture(store, fixture))["summary"]
    stages = summary["pipeline"]["stages"]
    return next(s for s in stages if s["name"].startswith("Prefetch")), stage_rows(summary["pipeline"])


def test_the_prefetch_image_dataset_from_directory_adds_is_keras_not_the_options(home):
    stage, rows = _prefetch(home, "keras_directory_fit")  # prefetch=none
    assert stage["origin"] == KERAS
    assert KERAS in stage["label"]  # the X-ray's table and charts name it so
    row = next(r for r in rows if r["stage"] == stage["label"])
    assert "AUTOTUNE" in row["stage"] and KERAS in row["stage"]


def test_a_prefetch_tfdata_inserted_is_tfdata_and_the_options_own_is_yours(home):
    injected, _ = _prefetch(home, "cache_shuffle")  # prefetch=none, tfdata_map_batch
    assert injected["origin"] == "added by tf.data, not in your code"
    own, _ = _prefetch(home, "autotune")  # prefetch=auto
    assert own["origin"] == "your code" and "added by" not in own["label"]
