"""Each finding rule alone, on a hand-built summary: fires on its evidence, stays quiet without it."""

from __future__ import annotations

import importlib

# the package re-exports the function findings(); the module is reached by its full name
f = importlib.import_module("diagnostics.analysis.findings")
from diagnostics.analysis.attribution import ALLOCATOR_FREE, TF_POOL_FREE  # noqa: E402

MiB = 1024**2


def ctx(config=None, **summary):
    return f.Context(config or {}, summary, [], available_ram_bytes=8 << 30)


def attribution(overhead, unattributed, **kinds):
    names = {"allocator_free": ALLOCATOR_FREE}
    components = [{"name": names.get(k, k), "kind": k, "bytes": v, "detail": ""} for k, v in kinds.items()]
    return {
        "at": "peak",
        "overhead_bytes": overhead,
        "unattributed_bytes": unattributed,
        "components": components,
    }


def stage(name, label, peak, **extra):
    return {"name": name, "label": label, "peak_buffered_bytes": peak, "buffered_elements": 0, **extra}


def test_every_rule_is_registered_under_the_id_it_emits():
    assert {"memory_growth", "cache_size", "allocator_retained", "autotune_choice", "bottleneck_stage",
            "unattributed_memory"} <= set(f.RULES)  # fmt: skip
    assert f.RULES["allocator_retained"] is f.allocator_retained


def test_allocator_retained_fires_above_floor_and_share_with_ab_advice():
    found = f.allocator_retained(ctx(attribution=attribution(200 * MiB, 0, allocator_free=60 * MiB)))
    assert found["id"] == "allocator_retained"
    assert "60.0 MiB" in found["detail"] and "30%" in found["detail"]
    assert "malloc_trim" in found["advice"] and "LD_PRELOAD" in found["advice"]
    assert found["evidence"]["source"] == "measured"
    assert f.allocator_retained(ctx(attribution=attribution(200 * MiB, 0, allocator_free=10 * MiB))) is None
    assert f.allocator_retained(ctx(attribution=attribution(2000 * MiB, 0, allocator_free=60 * MiB))) is None
    assert f.allocator_retained(ctx()) is None
    # TensorFlow's allocator pool is free memory too, but malloc_trim cannot return it
    pool = attribution(200 * MiB, 0)
    pool["components"] = [{"name": TF_POOL_FREE, "kind": "allocator_free", "bytes": 60 * MiB, "detail": ""}]
    assert f.allocator_retained(ctx(attribution=pool)) is None


def test_autotune_choice_names_every_tuned_value():
    pipeline = {"ram_budget_bytes": 4 << 30, "cpu_budget": 2, "stages": [
        stage("ParallelMapV2", "parallel map in flight", 0, autotune={"parallelism": 2},
              autotune_range={"parallelism": [1, 2]}),
        stage("Prefetch", "prefetch: 3 batches chosen by AUTOTUNE", 0, autotune={"buffer_size": 3}),
        stage("BatchV2", "batch", 0, autotune={}),
    ]}  # fmt: skip
    found = f.autotune_choice(ctx(pipeline=pipeline))
    assert "parallelism 2 for parallel map in flight (from 1 to 2 during the run)" in found["detail"]
    assert "buffer_size 3 for prefetch" in found["detail"]
    assert [c["value"] for c in found["evidence"]["choices"]] == [2, 3]
    assert f.autotune_choice(ctx(pipeline={"stages": [stage("BatchV2", "batch", 0, autotune={})]})) is None


def test_bottleneck_stage_names_stage_rate_and_bound():
    pipeline = {
        "bottleneck": {
            "stage": "parallel map in flight",
            "images_per_second": 812.5,
            "code": "dataset.map(x)",
        },
        "bound": {"kind": "input", "detail": "training waited 3 s of 10 s", "evidence": "input_wait"},
        "stages": [],
    }
    # a tf.data loader: keras_directory takes --num-parallel-calls only with a cast or augmentation
    found = f.bottleneck_stage(ctx({"loader": "tfdata_map_batch"}, pipeline=pipeline))
    assert "812.5 images/s" in found["detail"] and "input-bound" in found["detail"]
    assert "num-parallel-calls" in found["advice"]
    assert found["evidence"]["bound"] == "input"
    assert f.bottleneck_stage(ctx(pipeline={"bottleneck": None})) is None


def test_unattributed_memory_states_exactly_that():
    a = attribution(200 * MiB, 80 * MiB, library=20 * MiB)
    a["unattributed_split"] = {
        "detail": "malloc heap in use grew 70.0 MiB",
        "anonymous_outside_malloc_bytes": 1,
    }
    found = f.unattributed_memory(ctx(attribution=a))
    assert "80.0 MiB of the 200.0 MiB" in found["detail"] and "(40%)" in found["detail"]
    assert "malloc heap in use grew 70.0 MiB" in found["detail"]
    assert f.unattributed_memory(ctx(attribution=attribution(200 * MiB, 20 * MiB))) is None


def test_cache_size_prefers_the_measured_cache_and_says_so():
    config = {"cache": "memory"}
    model = {"cache": 100 * MiB}
    measured = ctx(config, memory_model=model, measured_overhead_bytes=150 * MiB,
                   pipeline={"stages": [stage("MemoryCacheImpl", "in-memory cache", 110 * MiB, peak_buffered_elements=550)]})  # fmt: skip
    found = f.cache_size(measured)
    assert found["evidence"]["source"] == "measured" and found["evidence"]["cache_bytes"] == 110 * MiB
    assert found["detail"].startswith("Measured cache")
    modelled = f.cache_size(ctx(config, memory_model=model, measured_overhead_bytes=150 * MiB))
    assert modelled["evidence"]["source"] == "memory model" and modelled["detail"].startswith(
        "Modelled cache"
    )


def test_shuffle_and_prefetch_use_measured_buffers_when_present():
    model = {"shuffle_buffer": 58 * MiB, "prefetch_buffers": 100 * MiB, "batch": 6 * MiB}
    pipeline = {"stages": [stage("Shuffle", "shuffle buffer (299 images)", 40 * MiB, shares_cache=True),
                           stage("Prefetch", "prefetch: 2 batches chosen by AUTOTUNE", 0, autotune={"buffer_size": 2})]}  # fmt: skip
    c = ctx({"shuffle_buffer": 300}, memory_model=model, measured_overhead_bytes=150 * MiB, pipeline=pipeline)
    shuffle = f.shuffle_buffer(c)
    assert (
        shuffle["evidence"]["source"] == "measured"
        and shuffle["evidence"]["shuffle_buffer_bytes"] == 40 * MiB
    )
    assert "references tensors" in shuffle["detail"]
    assert f.prefetch_buffers(c) is None  # measured empty: the modelled 100 MiB bound is not claimed
    c = ctx({}, memory_model=model, measured_overhead_bytes=150 * MiB)
    assert f.prefetch_buffers(c)["evidence"]["source"] == "memory model"
