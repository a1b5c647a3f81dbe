"""Pipeline X-ray on real trials over sample_data (issue 11's "done when"): stages with their bytes,
a small unattributed remainder, and the values AUTOTUNE chose."""

from __future__ import annotations

import pytest

from tests.integration.test_analysis_real import trial

pytestmark = pytest.mark.tf

MiB = 1024**2


def test_cache_and_shuffle_stages_with_bytes_and_little_unattributed(diag_home, sample_data_dir):
    run = trial(
        sample_data_dir, loader="tfdata_map_batch", cache="memory", shuffle=True, shuffle_buffer=300, epochs=3
    )
    summary = run["summary"]
    image = 128 * 128 * 3 * 4
    stages = {s["name"]: s for s in summary["pipeline"]["stages"]}
    assert stages["Shuffle"]["label"].startswith("shuffle buffer (")
    assert stages["Shuffle"]["peak_buffered_bytes"] >= 100 * image  # decoded images, not paths
    assert stages["Shuffle"]["code"] == "dataset = dataset.shuffle(300, seed=SEED)"
    assert stages["MemoryCacheImpl"]["label"] == "in-memory cache"
    assert stages["MemoryCacheImpl"]["peak_buffered_bytes"] >= 100 * image

    attribution = summary["attribution"]
    parts = {c["name"]: c for c in attribution["components"]}
    assert "in-memory cache" in parts, (attribution, summary["pipeline"])
    assert parts["in-memory cache"]["bytes"] >= 100 * image
    assert (
        sum(c["bytes"] for c in attribution["components"]) + attribution["unattributed_bytes"]
        == (attribution["overhead_bytes"])
    )
    assert parts["in-memory cache"]["bytes"] == pytest.approx(
        run["scan"]["num_images"] * (image + 4), rel=0.01
    )
    share = attribution["unattributed_bytes"] / attribution["overhead_bytes"]
    assert 0 <= share <= 0.15, (attribution["unattributed_bytes"] / MiB, attribution["overhead_bytes"] / MiB)
    assert {f["id"] for f in run["findings"]} >= {"cache_size", "bottleneck_stage"}


def test_autotune_choices_are_shown(diag_home, sample_data_dir):
    run = trial(
        sample_data_dir, loader="tfdata_map_batch", prefetch="auto", num_parallel_calls="auto", epochs=2
    )
    stages = run["summary"]["pipeline"]["stages"]
    tuned = {(s["name"], p): v for s in stages for p, v in s["autotune"].items()}
    assert tuned.get(("Prefetch", "buffer_size"), 0) >= 1, stages
    # without cache/shuffle between them tf.data fuses map + batch into MapAndBatch
    assert any(
        name in ("ParallelMapV2", "MapAndBatch") and v >= 1
        for (name, p), v in tuned.items()
        if p == "parallelism"
    ), stages
    prefetch = next(s for s in stages if s["name"] == "Prefetch")
    assert prefetch["code"] == "dataset = dataset.prefetch(tf.data.AUTOTUNE)"
    assert "chosen by AUTOTUNE" in prefetch["label"]
    choice = next(f for f in run["findings"] if f["id"] == "autotune_choice")
    assert "buffer_size" in choice["detail"] and "parallelism" in choice["detail"]
