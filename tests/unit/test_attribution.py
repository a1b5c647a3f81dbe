"""Attribution and pipeline stages on synthetic probe frames shaped like real ModelProto snapshots.

The node names, inputs and byte counts mirror a real cache + shuffle(300) run on sample_data
(tfdata_map_batch, TF 2.21): the shuffle buffer downstream of the cache references the cached
tensors, so it must not be added to the cache a second time.
"""

from __future__ import annotations

import pandas as pd
import pytest

from diagnostics import analysis
from diagnostics.analysis import attribution as attr
from diagnostics.analysis import pipeline as pl

MiB = 1024**2
IMAGE = 128 * 128 * 3 * 4
SNIPPET = """dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
dataset = dataset.map(load_image, num_parallel_calls=tf.data.AUTOTUNE)
dataset = dataset.cache()
dataset = dataset.shuffle(300, seed=SEED)
dataset = dataset.batch(BATCH_SIZE)
dataset = dataset.prefetch(tf.data.AUTOTUNE)
"""
READY = {"rss_bytes": 640 * MiB, "anon_bytes": 230 * MiB, "file_bytes": 410 * MiB, "shmem_bytes": 0,
         "malloc_in_use_bytes": 90 * MiB, "malloc_free_bytes": 1 * MiB, "malloc_mmap_bytes": 4 * MiB,
         "model_bytes": None, "optimizer_bytes": None}  # fmt: skip


def node(id_, name, inputs, buffered=0, elements=0, time_ns=0, n=0, params=None, tunable=()):
    return {"id": id_, "name": name, "inputs": list(inputs), "buffered_bytes": buffered,
            "buffered_elements": elements, "processing_time_ns": time_ns, "num_elements": n,
            "bytes_produced": 0, "bytes_consumed": 0, "autotune": True,
            "parameters": dict(params or {}), "tunable": list(tunable)}  # fmt: skip


def first_epoch_nodes(cached: int, shuffled: int = 299, prefetch_batches: float = 2, map_elements: int = 2):
    return [
        node(1, "Root", [2], n=5),
        node(2, "Prefetch", [3], params={"buffer_size": prefetch_batches}, tunable=["buffer_size"], n=5, time_ns=400_000),
        node(3, "BatchV2", [4], time_ns=17_000_000, n=5),
        node(4, "Shuffle", [5], buffered=shuffled * IMAGE, elements=shuffled, time_ns=9_000_000, n=160),
        node(5, "MemoryCache", [6], time_ns=200_000, n=cached),
        node(6, "MemoryCacheImpl", [7], buffered=cached * IMAGE, elements=cached, time_ns=900_000, n=cached),
        node(7, "ParallelMapV2", [8], buffered=map_elements * IMAGE, elements=map_elements,
             time_ns=cached * 2_000_000, n=cached, params={"parallelism": 2}, tunable=["parallelism"]),
        node(8, "TensorSlice", [], time_ns=2_000_000, n=cached + 2),
    ]  # fmt: skip


def pipeline_row(t, nodes, iterator=0, reason="tick", epoch=0):
    data = {"reason": reason, "epoch": epoch, "iterator": iterator, "ram_budget_bytes": 8 << 30,
            "cpu_budget": 2, "output": 1, "nodes": nodes}  # fmt: skip
    return {"t": t, "data": data}


def comp_row(t, **delta):
    data = {**READY, "reason": delta.pop("reason", "tick"), "epoch": delta.pop("epoch", 0)}
    for key, value in delta.items():
        data[key] = READY[key] + value if value is not None and READY.get(key) is not None else value
    data["rss_bytes"] = data["anon_bytes"] + data["file_bytes"] + data["shmem_bytes"]
    return {"t": t, "data": data}


def frames(pipeline_rows, composition_rows):
    return pd.DataFrame(pipeline_rows, columns=["t", "data"]), pd.DataFrame(
        composition_rows, columns=["t", "data"]
    )


def events_frame():
    return pd.DataFrame(
        [{"t": 0.0, "kind": "ready", "data": {"rss_bytes": READY["rss_bytes"], "composition": dict(READY)}}],
        columns=["t", "kind", "data"],
    )


SUMMARY = {"baseline_rss_bytes": READY["rss_bytes"]}


def cache_shuffle_run():
    """Two snapshots: mid-epoch (cache 461, shuffle 299 referenced), then epoch end (iterator gone)."""
    cached = 461
    pipeline = [pipeline_row(1.0, first_epoch_nodes(cached))]
    # anon growth: cache + map's two in-flight images + 20 MiB more malloc free + 9 MiB not named
    named = cached * IMAGE + 2 * IMAGE
    composition = [
        comp_row(1.0005, anon_bytes=named + 20 * MiB + 9 * MiB, file_bytes=6 * MiB,
                 malloc_in_use_bytes=named + 5 * MiB, malloc_free_bytes=20 * MiB),
        comp_row(2.0, reason="epoch_end", anon_bytes=550 * IMAGE + 22 * MiB, file_bytes=6 * MiB,
                 malloc_in_use_bytes=550 * IMAGE, malloc_free_bytes=22 * MiB),
    ]  # fmt: skip
    return frames(pipeline, composition)


def test_shuffle_downstream_of_cache_is_not_counted_twice_and_the_sum_is_exact():
    pipeline, composition = cache_shuffle_run()
    result = attr.attribute(SUMMARY, events_frame(), pipeline, composition, snippet=SNIPPET, batch_size=32)
    first = result["series"][0]
    parts = {p["name"]: p for p in first["components"]}
    assert parts["in-memory cache"]["bytes"] == 461 * IMAGE
    shuffle = parts["shuffle buffer (299 images)"]
    assert shuffle["bytes"] == 0 and shuffle["referenced_bytes"] == 299 * IMAGE
    assert parts["parallel map in flight"]["bytes"] == 2 * IMAGE
    assert parts[attr.LIBRARY]["bytes"] == 6 * MiB
    assert parts[attr.ALLOCATOR_FREE]["bytes"] == 20 * MiB
    for obj in result["series"]:
        assert sum(p["bytes"] for p in obj["components"]) + obj["unattributed_bytes"] == obj["overhead_bytes"]
    assert first["unattributed_bytes"] == 9 * MiB  # exactly the anonymous growth nothing names


def test_the_cache_outlives_its_iterator():
    pipeline, composition = cache_shuffle_run()
    result = attr.attribute(SUMMARY, events_frame(), pipeline, composition, snippet=SNIPPET, batch_size=32)
    (epoch_end,) = result["epochs"]
    cache = next(p for p in epoch_end["components"] if p["name"] == "in-memory cache")
    assert cache["carried"] and cache["bytes"] == 461 * IMAGE  # last measured size, said so in the detail
    assert "outlives" in cache["detail"]
    assert epoch_end["epoch"] == 0


def test_cache_shared_by_two_live_iterators_counts_once_other_buffers_add_up():
    second_epoch = [
        node(1, "Root", [2]),
        node(2, "Prefetch", [3], buffered=2 * 32 * IMAGE, elements=2, params={"buffer_size": 2}, tunable=["buffer_size"]),
        node(3, "BatchV2", [4]),
        node(4, "Shuffle", [5], buffered=299 * IMAGE, elements=299),
        node(5, "MemoryCache", [6]),
        node(6, "MemoryCacheImpl", [], buffered=550 * IMAGE, elements=550),
    ]  # fmt: skip
    pipeline = [pipeline_row(1.0, second_epoch, iterator=0), pipeline_row(1.0, second_epoch, iterator=1)]
    composition = [comp_row(1.001, anon_bytes=800 * MiB, malloc_in_use_bytes=750 * MiB)]
    pipeline, composition = frames(pipeline, composition)
    result = attr.attribute(SUMMARY, events_frame(), pipeline, composition, snippet=SNIPPET, batch_size=32)
    parts = {p["name"]: p["bytes"] for p in result["peak"]["components"]}
    assert parts["in-memory cache"] == 550 * IMAGE
    # the prefetch holds batches (new tensors made by batch): each iterator's own, summed
    assert parts["prefetch: 2 batches chosen by AUTOTUNE"] == 2 * 2 * 32 * IMAGE
    assert parts["shuffle buffer (299 images)"] == 0


def test_prefetch_of_unbatched_elements_after_a_cache_references_it():
    nodes = [
        node(1, "Root", [2]),
        node(2, "Prefetch", [3], buffered=4 * IMAGE, elements=4, params={"buffer_size": 4}),
        node(3, "MemoryCache", [4]),
        node(4, "MemoryCacheImpl", [], buffered=100 * IMAGE, elements=100),
    ]
    pipeline, composition = frames(
        [pipeline_row(1.0, nodes)], [comp_row(1.001, anon_bytes=200 * MiB, malloc_in_use_bytes=150 * MiB)]
    )
    result = attr.attribute(SUMMARY, events_frame(), pipeline, composition, batch_size=32)
    parts = {p["name"]: p["bytes"] for p in result["peak"]["components"]}
    assert parts["prefetch: 4 images"] == 0
    assert parts["in-memory cache"] == 100 * IMAGE


def test_no_tfdata_gets_process_parts_and_says_stage_attribution_needs_tfdata():
    pipeline, composition = frames([], [comp_row(1.0, anon_bytes=100 * MiB, malloc_free_bytes=40 * MiB)])
    result = attr.attribute(SUMMARY, events_frame(), pipeline, composition)
    peak = result["peak"]
    assert {p["kind"] for p in peak["components"]} == {"library", "allocator_free"}
    assert "needs tf.data" in peak["note"]
    assert sum(p["bytes"] for p in peak["components"]) + peak["unattributed_bytes"] == peak["overhead_bytes"]


def test_stage_bytes_beyond_the_heap_growth_are_scaled_down_never_counted_twice():
    # Reproduces CI's -33.6 MiB remainder: tf.data reported more than malloc's heap grew.
    nodes = [node(1, "Root", [2]), node(2, "MemoryCache", [3]),
             node(3, "MemoryCacheImpl", [], buffered=300 * MiB, elements=10)]  # fmt: skip
    composition = [comp_row(1.001, anon_bytes=130 * MiB, malloc_in_use_bytes=100 * MiB, model_bytes=20 * MiB)]
    pipeline, composition = frames([pipeline_row(1.0, nodes)], composition)
    peak = attr.attribute(SUMMARY, events_frame(), pipeline, composition)["peak"]
    cache = next(p for p in peak["components"] if p["name"] == "in-memory cache")
    assert cache["reported_bytes"] == 300 * MiB and cache["bytes"] == 80 * MiB  # heap 100 - model 20
    assert "in proportion" in peak["note"] and "300.0 MiB" in peak["note"]
    assert peak["unattributed_bytes"] == 30 * MiB  # anonymous growth outside the heap
    assert sum(p["bytes"] for p in peak["components"]) + peak["unattributed_bytes"] == peak["overhead_bytes"]


def test_measured_parts_exceeding_the_overhead_leave_a_negative_remainder_with_a_note():
    # Without malloc figures nothing bounds the stages: the remainder shows the disagreement.
    nodes = [node(1, "Root", [2]), node(2, "MemoryCache", [3]),
             node(3, "MemoryCacheImpl", [], buffered=300 * MiB, elements=10)]  # fmt: skip
    composition = [comp_row(1.001, anon_bytes=100 * MiB, malloc_in_use_bytes=None, malloc_mmap_bytes=None)]
    pipeline, composition = frames([pipeline_row(1.0, nodes)], composition)
    peak = attr.attribute(SUMMARY, events_frame(), pipeline, composition)["peak"]
    assert peak["unattributed_bytes"] < 0
    assert "exceed" in peak["note"]


def test_fit_components_model_and_optimizer():
    composition = [comp_row(1.0, anon_bytes=100 * MiB, model_bytes=10 * MiB, optimizer_bytes=20 * MiB)]
    pipeline, composition = frames([], composition)
    peak = attr.attribute(SUMMARY, events_frame(), pipeline, composition)["peak"]
    parts = {p["kind"]: p["bytes"] for p in peak["components"]}
    assert parts["model"] == 10 * MiB and parts["optimizer"] == 20 * MiB


def test_attribution_frame_has_every_name_at_every_time_and_unattributed():
    pipeline, composition = cache_shuffle_run()
    run = {"config": {"batch_size": 32}, "snippet": SNIPPET, "summary": SUMMARY}
    frame = analysis.attribution_frame(run, None, events_frame(), pipeline, composition)
    assert list(frame.columns) == ["t", "name", "kind", "bytes"]
    per_time = frame.groupby("t")["name"].apply(set)
    assert len(per_time) == 2 and per_time.iloc[0] == per_time.iloc[1]
    assert "unattributed" in per_time.iloc[0]
    for t, group in frame.groupby("t"):
        row = composition[composition["t"] == t].iloc[0]["data"]
        assert group["bytes"].sum() == row["rss_bytes"] - READY["rss_bytes"]


def test_attribution_frame_empty_without_composition():
    frame = analysis.attribution_frame({"config": {}}, None, events_frame(), None, None)
    assert frame.empty and list(frame.columns) == ["t", "name", "kind", "bytes"]


# -- pipeline summary ------------------------------------------------------------------------------


def test_stages_labels_code_and_bottleneck():
    pipeline, _ = cache_shuffle_run()
    summary = pl.pipeline_summary(pipeline, snippet=SNIPPET, batch_size=32, mode="iterate")
    by_label = {s["label"]: s for s in summary["stages"]}
    assert set(by_label) >= {
        "in-memory cache",
        "shuffle buffer (299 images)",
        "prefetch: 2 batches chosen by AUTOTUNE",
        "parallel map in flight",
        "batch",
    }
    assert by_label["in-memory cache"]["code"] == "dataset = dataset.cache()"
    assert by_label["parallel map in flight"]["code"].startswith("dataset = dataset.map(load_image")
    assert by_label["shuffle buffer (299 images)"]["peak_buffered_bytes"] == 299 * IMAGE
    assert by_label["parallel map in flight"]["autotune"] == {"parallelism": 2}
    assert summary["ram_budget_bytes"] == 8 << 30 and summary["cpu_budget"] == 2
    # map: 461 elements in 461 x 2 ms self time, parallelism 2 -> 1000 images/s, the slowest
    bottleneck = summary["bottleneck"]
    assert bottleneck["stage"] == "parallel map in flight"
    assert bottleneck["images_per_second"] == pytest.approx(1000.0)
    # batch: 5 batches of 32 in 17 ms -> 9412 images/s (elements are batches)
    assert by_label["batch"]["images_per_second"] == pytest.approx(5 * 32 / 0.017)
    assert sum(s["time_share"] for s in summary["stages"]) == pytest.approx(1.0)
    assert "bound" not in summary  # iterate mode


def test_two_maps_get_told_apart_by_their_code():
    snippet = SNIPPET.replace(
        "dataset = dataset.prefetch",
        "dataset = dataset.map(lambda images, labels: (augment(images), labels), num_parallel_calls=2)\n"
        "dataset = dataset.prefetch",
    )
    nodes = [node(1, "Root", [2]), node(2, "ParallelMapV2", [3], params={"parallelism": 2}),
             node(3, "BatchV2", [4]), node(4, "ParallelMapV2", [5], params={"parallelism": 2}),
             node(5, "TensorSlice", [])]  # fmt: skip
    pipeline, _ = frames([pipeline_row(1.0, nodes)], [])
    stages = pl.pipeline_summary(pipeline, snippet=snippet, batch_size=32, mode="iterate")["stages"]
    labels = {s["label"]: s["code"] for s in stages}
    assert labels["parallel map in flight (load_image)"].startswith("dataset = dataset.map(load_image")
    assert "augment" in labels["parallel map in flight (augment)"]


def test_fit_bound_from_input_wait_else_a_named_proxy():
    pipeline, _ = cache_shuffle_run()
    waited = [{"seconds": 10.0, "input_wait_seconds": 6.0}]
    bound = pl.pipeline_summary(pipeline, snippet=SNIPPET, batch_size=32, mode="fit", epoch_ends=waited)[
        "bound"
    ]
    assert bound["kind"] == "input" and bound["evidence"] == "input_wait"
    bound = pl.pipeline_summary(
        pipeline,
        snippet=SNIPPET,
        batch_size=32,
        mode="fit",
        epoch_ends=[{"seconds": 10.0, "input_wait_seconds": 0.5}],
    )["bound"]
    assert bound["kind"] == "compute"
    # no wait measured: achieved 950 images/s against a 1000 images/s slowest stage -> input, proxy named
    bound = pl.pipeline_summary(
        pipeline, snippet=SNIPPET, batch_size=32, mode="fit", achieved_images_per_second=950.0
    )["bound"]
    assert bound["kind"] == "input" and bound["evidence"] == "rate_vs_capacity" and "proxy" in bound["detail"]


def test_fit_bound_from_prefetch_occupancy():
    full = first_epoch_nodes(100)
    full[1]["buffered_elements"] = 2
    pipeline, _ = frames([pipeline_row(float(t), full) for t in range(4)], [])
    bound = pl.pipeline_summary(pipeline, snippet=SNIPPET, batch_size=32, mode="fit")["bound"]
    assert bound["kind"] == "compute" and bound["evidence"] == "prefetch_occupancy"


def test_autotune_frame_tracks_choices_over_time():
    rows = [pipeline_row(float(t), first_epoch_nodes(100, prefetch_batches=1 + t)) for t in range(3)]
    pipeline, _ = frames(rows, [])
    frame = analysis.autotune_frame(pipeline)
    assert list(frame.columns) == ["t", "stage", "parameter", "value"]
    prefetch = frame[frame["parameter"] == "buffer_size"]
    assert prefetch["value"].tolist() == [1.0, 2.0, 3.0]
    assert set(frame["parameter"]) == {"buffer_size", "parallelism"}
    assert analysis.autotune_frame(None).empty


def test_analyze_with_probe_frames_fills_attribution_and_pipeline():
    pipeline, composition = cache_shuffle_run()
    run = {"config": {"loader": "tfdata_map_batch", "mode": "iterate", "batch_size": 32, "cache": "memory",
                      "shuffle": True, "shuffle_buffer": 300}, "snippet": SNIPPET, "status": "completed"}  # fmt: skip
    samples = pd.DataFrame(columns=["t", "rss_bytes", "main_rss_bytes", "vmhwm_bytes", "fds"])
    result = analysis.analyze(
        run, samples, events_frame(), None, None, pipeline=pipeline, composition=composition
    )
    summary = result["summary"]
    assert summary["attribution"]["at"] == "peak"
    assert summary["pipeline"]["bottleneck"]["stage"] == "parallel map in flight"
    assert [e["epoch"] for e in summary["attribution_epochs"]] == [0]
    ids = {f["id"] for f in result["findings"]}
    assert {"autotune_choice", "bottleneck_stage", "cache_size"} <= ids
    cache = next(f for f in result["findings"] if f["id"] == "cache_size")
    assert cache["evidence"]["source"] == "measured" and cache["evidence"]["cache_bytes"] == 461 * IMAGE


def test_analyze_without_probe_frames_is_unchanged():
    run = {"config": {"loader": "tfdata_map_batch", "mode": "iterate"}, "status": "completed"}
    result = analysis.analyze(run, None, events_frame(), None, None)
    assert "attribution" not in result["summary"] and "pipeline" not in result["summary"]


def test_a_cache_seen_filling_is_complete_once_its_epoch_ended():
    pipeline, composition = cache_shuffle_run()
    events = pd.concat(
        [
            events_frame(),
            pd.DataFrame([{"t": 1.9, "kind": "epoch_end", "data": {"epoch": 0, "images": 550}}]),
        ],
        ignore_index=True,
    )
    result = attr.attribute(SUMMARY, events, pipeline, composition, snippet=SNIPPET, batch_size=32)
    cache = next(p for p in result["epochs"][0]["components"] if p["name"] == "in-memory cache")
    assert cache["estimated"] and cache["bytes"] == 550 * IMAGE  # 461 measured, per-element size x 550
    assert "461 elements while filling" in cache["detail"]
    end = result["epochs"][0]
    assert sum(p["bytes"] for p in end["components"]) + end["unattributed_bytes"] == end["overhead_bytes"]


def test_malloc_free_memory_is_counted_only_as_far_as_it_can_be_resident():
    # fordblks grew 80 MiB, but anonymous memory grew only 50 MiB with 30 MiB of heap in use:
    # at most 20 MiB of the free chunks can be resident (glibc returned the rest to the kernel).
    composition = [
        comp_row(1.0, anon_bytes=50 * MiB, malloc_in_use_bytes=30 * MiB, malloc_free_bytes=80 * MiB)
    ]
    pipeline, composition = frames([], composition)
    peak = attr.attribute(SUMMARY, events_frame(), pipeline, composition)["peak"]
    free = next(p for p in peak["components"] if p["kind"] == "allocator_free")
    assert free["bytes"] == 20 * MiB and "resident" in free["detail"]
    assert peak["unattributed_bytes"] == 30 * MiB  # the heap in use nothing names


def test_tensorflow_allocator_pool_free_is_the_mmapped_growth_it_does_not_use():
    # Measured on sample_data: the BFC pool's regions (8 + 8 + 16 MiB) are malloc mmapped chunks.
    composition = [
        comp_row(1.0, anon_bytes=40 * MiB, malloc_mmap_bytes=34 * MiB, tf_allocator_in_use_bytes=2 * MiB)
    ]
    pipeline, composition = frames([], composition)
    peak = attr.attribute(SUMMARY, events_frame(), pipeline, composition)["peak"]
    pool = next(p for p in peak["components"] if p["name"] == attr.TF_POOL_FREE)
    assert pool["kind"] == "allocator_free" and pool["bytes"] == 32 * MiB
    assert "get_memory_info" in pool["detail"]
    tensors = next(p for p in peak["components"] if p["name"] == attr.TF_TENSORS)
    assert tensors["bytes"] == 2 * MiB  # in use, not free: the pool part leaves it out
    assert peak["unattributed_bytes"] == 6 * MiB


def test_tensorflow_allocator_pool_counts_only_what_can_be_resident():
    # Regions reserved but not all touched: anonymous memory grew less than the pool's size.
    composition = [
        comp_row(1.0, anon_bytes=20 * MiB, malloc_mmap_bytes=34 * MiB, tf_allocator_in_use_bytes=2 * MiB)
    ]
    pipeline, composition = frames([], composition)
    peak = attr.attribute(SUMMARY, events_frame(), pipeline, composition)["peak"]
    pool = next(p for p in peak["components"] if p["name"] == attr.TF_POOL_FREE)
    assert pool["bytes"] == 18 * MiB and "resident" in pool["detail"]  # anonymous 20 - tensors 2
    assert peak["unattributed_bytes"] == 0 and "exceed" not in peak["note"]


def test_tensors_in_tensorflows_allocator_beyond_the_named_parts_are_a_lower_bound():
    # A training step: 300 MiB in use, of which model 10 and optimizer 20 may be part.
    composition = [comp_row(1.0, anon_bytes=400 * MiB, malloc_mmap_bytes=330 * MiB, model_bytes=10 * MiB,
                            optimizer_bytes=20 * MiB, tf_allocator_in_use_bytes=300 * MiB)]  # fmt: skip
    pipeline, composition = frames([], composition)
    peak = attr.attribute(SUMMARY, events_frame(), pipeline, composition)["peak"]
    parts = {p["name"]: p["bytes"] for p in peak["components"]}
    assert parts[attr.TF_TENSORS] == 270 * MiB and parts[attr.TF_POOL_FREE] == 30 * MiB
    assert sum(parts.values()) + peak["unattributed_bytes"] == peak["overhead_bytes"]
    assert peak["unattributed_bytes"] == 400 * MiB - 330 * MiB


def test_no_tensorflow_allocator_figure_no_pool_part():
    composition = [comp_row(1.0, anon_bytes=40 * MiB, malloc_mmap_bytes=34 * MiB)]
    pipeline, composition = frames([], composition)
    peak = attr.attribute(SUMMARY, events_frame(), pipeline, composition)["peak"]
    assert attr.TF_POOL_FREE not in {p["name"] for p in peak["components"]}


def test_the_peak_is_the_latest_snapshot_level_with_the_highest_rss():
    # Reproduces a CI failure: a tick early in epoch 1 (no model readable yet, the cache already
    # filled) topped the epoch end by 16 KiB, and the attribution at the peak named no cache.
    nodes = [node(1, "Root", [2]), node(2, "MemoryCache", [3]),
             node(3, "MemoryCacheImpl", [], buffered=550 * IMAGE, elements=550)]  # fmt: skip
    cache = 550 * IMAGE
    composition = [
        comp_row(1.0, anon_bytes=cache + 16 * 1024, malloc_in_use_bytes=cache),
        comp_row(2.0, reason="epoch_end", anon_bytes=cache, malloc_in_use_bytes=cache),
        comp_row(3.0, reason="epoch_end", anon_bytes=cache - 8 * MiB, malloc_in_use_bytes=cache - 8 * MiB),
    ]
    pipeline, composition = frames([pipeline_row(1.999, nodes, reason="epoch_end")], composition)
    peak = attr.attribute(SUMMARY, events_frame(), pipeline, composition)["peak"]
    assert peak["t"] == 2.0
    assert {p["name"]: p["bytes"] for p in peak["components"]}["in-memory cache"] == cache
