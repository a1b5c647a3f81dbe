"""The worker probe on real TensorFlow trials over sample_data: stage bytes agree with the data.

Element size: tf.data counts a decoded 128x128x3 float32 image (the scan's decoded_bytes_per_image)
plus its int32 label, 4 bytes.
"""

from __future__ import annotations

import pytest

from diagnostics.config import TrialConfig
from diagnostics.runner import run_trial
from diagnostics.store import Store

pytestmark = pytest.mark.tf

LABEL_BYTES = 4


def trial(sample_data_dir, **options):
    store = Store()
    run_id = run_trial(TrialConfig(dataset=str(sample_data_dir), **options), store)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run.get("error")
    return store, run


def stages(pipeline, name):
    """Every snapshot's node of that name (as (reason, epoch, node))."""
    return [(d["reason"], d["epoch"], n) for d in pipeline["data"] for n in d["nodes"] if n["name"] == name]


def test_cache_and_shuffle_bytes_agree_with_decoded_images(diag_home, sample_data_dir, monkeypatch):
    monkeypatch.setenv("DIAG_PROBE_HZ", "50")  # the epochs after the first take ~0.1 s here
    store, run = trial(
        sample_data_dir, loader="tfdata_map_batch", cache="memory", shuffle=True, shuffle_buffer=300, epochs=3
    )
    element = run["scan"]["decoded_bytes_per_image"] + LABEL_BYTES
    pipeline = store.pipeline(run["id"])
    shuffles = [n for _, _, n in stages(pipeline, "Shuffle")]
    assert max(n["buffered_elements"] for n in shuffles) == 299
    assert all(n["buffered_bytes"] == n["buffered_elements"] * element for n in shuffles)
    caches = [n for _, _, n in stages(pipeline, "MemoryCacheImpl")]
    assert caches and all(n["buffered_bytes"] == n["buffered_elements"] * element for n in caches)
    assert max(n["buffered_elements"] for n in caches) == run["scan"]["num_images"]
    # One epoch-end snapshot per epoch, from the iterator that ended it, and composition beside it.
    assert sorted({d["epoch"] for d in pipeline["data"] if d["reason"] == "epoch_end"}) == [0, 1, 2]
    composition = store.composition(run["id"])
    ends = [d for d in composition["data"] if d["reason"] == "epoch_end"]
    assert [d["epoch"] for d in ends] == [0, 1, 2]
    for d in composition["data"]:
        assert d["anon_bytes"] + d["file_bytes"] + d["shmem_bytes"] == d["rss_bytes"]
        assert d["model_bytes"] is None and d["malloc_in_use_bytes"] > 0
    done = store.events(run["id"]).query("kind == 'done'")["data"].iloc[0]
    assert done["probe"]["errors"] == 0 and done["probe"]["model_proto_calls"] >= len(pipeline)


def test_an_epoch_shorter_than_a_tick_still_reports_its_cache(diag_home, sample_data_dir, monkeypatch):
    # Reproduces a run whose first epoch (0.16 s) fell between two 4 Hz ticks: at end of sequence
    # tf.data had released the cache and shuffle stages, so nothing named the 103 MiB cache.
    monkeypatch.setenv("DIAG_PROBE_HZ", "0.01")  # no tick during the trial: epoch ends only
    store, run = trial(
        sample_data_dir, loader="tfdata_map_batch", cache="memory", shuffle=True, shuffle_buffer=300, epochs=2
    )
    element = run["scan"]["decoded_bytes_per_image"] + LABEL_BYTES
    pipeline = store.pipeline(run["id"])
    assert {d["reason"] for d in pipeline["data"]} == {"epoch_end"}
    first = [n for reason, epoch, n in stages(pipeline, "MemoryCacheImpl") if epoch == 0]
    assert first and first[0]["released"] and first[0]["buffered_elements"] >= 100
    assert first[0]["buffered_bytes"] == first[0]["buffered_elements"] * element
    parts = {c["name"]: c["bytes"] for c in run["summary"]["attribution"]["components"]}
    assert parts["in-memory cache"] >= run["scan"]["num_images"] * element * 0.99


def test_autotune_choices_are_reported(diag_home, sample_data_dir):
    store, run = trial(
        sample_data_dir, loader="tfdata_map_batch", prefetch="auto", num_parallel_calls="auto", epochs=3
    )
    pipeline = store.pipeline(run["id"])
    tuned = {}
    for d in pipeline["data"]:
        for n in d["nodes"]:
            for name in n["tunable"]:
                tuned.setdefault((n["name"], name), []).append(n["parameters"][name])
                assert 1 <= n["parameters"][name]
                if name == "parallelism":
                    assert n["parameters"][name] <= d["cpu_budget"]
    assert ("Prefetch", "buffer_size") in tuned
    assert any(name == "parallelism" for _, name in tuned), tuned


def test_fit_mode_model_optimizer_bytes_and_the_iterator_stages(diag_home, sample_data_dir):
    store, run = trial(sample_data_dir, loader="keras_directory", mode="fit", epochs=2)
    composition = store.composition(run["id"])
    last = composition["data"].iloc[-1]
    # tiny_cnn with 5 classes: 23,909 float32 parameters; Adam keeps two slots per weight plus
    # its int64 iteration count and float32 learning rate.
    assert last["model_bytes"] == 23909 * 4
    assert last["optimizer_bytes"] == 2 * last["model_bytes"] + 8 + 4
    pipeline = store.pipeline(run["id"])
    assert len(pipeline) > 0
    names = {n["name"] for d in pipeline["data"] for n in d["nodes"]}
    assert "Prefetch" in names and names & {"MapAndBatch", "ParallelMapV2", "BatchV2"}, names
    batch_bytes = run["config"]["batch_size"] * (run["scan"]["decoded_bytes_per_image"] + LABEL_BYTES)
    for _, _, n in stages(pipeline, "MapAndBatch"):
        assert n["buffered_bytes"] % batch_bytes == 0  # whole batches in flight
    # Keras traces its train function with symbolic iterators: those are not read (no error ticks).
    done = store.events(run["id"]).query("kind == 'done'")["data"].iloc[0]
    assert done["probe"]["errors"] == 0, done["probe"]["last_error"]
