"""Attribution and stages on PROBE's captured real trials (tests/fixtures/probe/), re-analysed here.

The fixtures are real TF 2.21 runs on sample_data; these tests pin what the analysis makes of them:
stages named as the user wrote them, nothing counted twice, the exact sum, AUTOTUNE's values, and
the fit-mode parts (model, optimizer, bound).
"""

from __future__ import annotations

import pytest

from diagnostics import analysis
from diagnostics.store import Store
from tests.synthetic import store_probe_fixture

MiB = 1024**2


def analysed(tmp_path, name):
    store = Store(tmp_path / name)
    run_id = store_probe_fixture(store, name)
    run = store.get_run(run_id)
    result = analysis.analyze(
        run,
        store.samples(run_id),
        store.events(run_id),
        store.logs(run_id),
        run.get("scan"),
        pipeline=store.pipeline(run_id),
        composition=store.composition(run_id),
    )
    frame = analysis.attribution_frame(
        run, store.samples(run_id), store.events(run_id), store.pipeline(run_id), store.composition(run_id)
    )
    return result, frame, store.composition(run_id)


def exact(obj):
    return sum(c["bytes"] for c in obj["components"]) + obj["unattributed_bytes"] == obj["overhead_bytes"]


def test_cache_shuffle_fixture(tmp_path):
    result, frame, composition = analysed(tmp_path, "cache_shuffle")
    summary = result["summary"]
    stages = {s["name"]: s for s in summary["pipeline"]["stages"]}
    assert stages["Shuffle"]["label"] == "shuffle buffer (299 images)"
    assert stages["Shuffle"]["shares_cache"]
    assert stages["MemoryCacheImpl"]["label"] == "in-memory cache"
    attribution = summary["attribution"]
    parts = {c["name"]: c for c in attribution["components"]}
    cache = parts["in-memory cache"]["bytes"]
    assert cache >= 500 * 128 * 128 * 3 * 4  # the whole epoch is cached by the peak
    # the shuffle buffer holds references to cached tensors: never added on top of the cache
    shuffle = parts.get("shuffle buffer (299 images)")
    assert shuffle is None or shuffle["bytes"] == 0
    assert exact(attribution) and all(exact(e) for e in summary["attribution_epochs"])
    assert abs(attribution["unattributed_bytes"]) <= 0.15 * attribution["overhead_bytes"]
    # the frame: one value per name per snapshot, summing to each snapshot's overhead
    baseline = summary["baseline_rss_bytes"]
    rss = {row.t: row.data["rss_bytes"] for row in composition.itertuples()}
    for t, group in frame.groupby("t"):
        assert group["bytes"].sum() == rss[t] - baseline
    assert set(frame[frame["name"] == "unattributed"]["kind"]) == {"other"}


def test_autotune_fixture_shows_the_chosen_values(tmp_path):
    result, _, _ = analysed(tmp_path, "autotune")
    stages = result["summary"]["pipeline"]["stages"]
    tuned = {(s["name"], p) for s in stages for p, v in s["autotune"].items() if v is not None}
    assert ("Prefetch", "buffer_size") in tuned
    assert any(p == "parallelism" for _, p in tuned)
    choice = next(f for f in result["findings"] if f["id"] == "autotune_choice")
    assert "chose" in choice["detail"]


def test_fit_fixture_has_model_optimizer_and_a_bound(tmp_path):
    result, _, _ = analysed(tmp_path, "keras_directory_fit")
    summary = result["summary"]
    kinds = {c["kind"]: c["bytes"] for c in summary["attribution"]["components"]}
    assert kinds["model"] > 0 and kinds["optimizer"] > 0
    assert exact(summary["attribution"])
    bound = summary["pipeline"]["bound"]
    assert bound["kind"] in ("input", "compute") and bound["evidence"]
    assert bound["detail"]


@pytest.mark.parametrize("name", ["cache_shuffle", "autotune", "keras_directory_fit"])
def test_every_fixture_gets_a_bottleneck_with_a_rate(tmp_path, name):
    result, _, _ = analysed(tmp_path, name)
    bottleneck = result["summary"]["pipeline"]["bottleneck"]
    assert bottleneck["stage"] and bottleneck["images_per_second"] > 0
