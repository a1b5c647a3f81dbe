"""Every rule that gives advice, fed the config that makes (part of) its advice moot: the moot
advice is absent, and present on the config where it applies (issue 18 item 6)."""

from __future__ import annotations

import importlib

import pytest

from diagnostics.analysis.pipeline import fit_bound
from diagnostics.views.xray import bound_sentence

f = importlib.import_module("diagnostics.analysis.findings")

MiB = 1024**2
KERAS = {"loader": "keras_directory", "mode": "iterate", "batch_size": 32, "image_size": [128, 128]}
TFDATA = {**KERAS, "loader": "tfdata_map_batch"}


def ctx(config, groups=(), iterate=None, **summary):
    return f.Context(dict(config), summary, list(groups), available_ram_bytes=1 << 30,
                     iterate_images_per_second=iterate)  # fmt: skip


def advice(rule, config, **kw):
    found = rule(ctx(config, **kw))
    assert found is not None, f"{rule.__name__} did not fire"
    return found["advice"]


def test_memory_growth_names_keep_decoded_only_when_it_is_on():
    leak = {"growing": True, "leak_bytes_per_epoch": 50 * MiB, "threshold_bytes_per_epoch": 8 * MiB,
            "noise_band_bytes_per_epoch": 2 * MiB, "epochs_used": [1, 2, 3]}  # fmt: skip
    loop = {**KERAS, "loader": "eager_loop"}
    assert "--keep-decoded" in advice(f.memory_growth, {**loop, "keep_decoded": True}, leak=leak)
    assert "--keep-decoded" not in advice(f.memory_growth, loop, leak=leak)


CACHED = {"memory_model": {"cache": 800 * MiB}, "measured_overhead_bytes": 810 * MiB}


@pytest.mark.parametrize("rule", [f.cache_size, f.cache_exceeds_ram])
def test_cache_advice_drops_uint8_when_the_run_is_uint8(rule):
    config = {**TFDATA, "cache": "memory"}
    assert "--dtype uint8" in advice(rule, config, **CACHED)
    assert "--dtype uint8" not in advice(rule, {**config, "dtype": "uint8"}, **CACHED)


def _prefetch(peak=120 * MiB):
    return {"pipeline": {"stages": [{"name": "Prefetch", "label": "prefetch", "peak_buffered_bytes": peak,
                                     "autotune": {}}]}, "measured_overhead_bytes": 400 * MiB}  # fmt: skip


def test_prefetch_advice_caps_only_a_prefetch_the_options_made_and_did_not_already_cap():
    assert "--prefetch 1 or 2" in advice(f.prefetch_buffers, {**TFDATA, "prefetch": "auto"}, **_prefetch())
    assert "--prefetch 1 or 2" not in advice(f.prefetch_buffers, {**TFDATA, "prefetch": 2}, **_prefetch())
    # prefetch none: the buffer is the loader's own (image_dataset_from_directory adds it)
    words = advice(f.prefetch_buffers, {**KERAS, "prefetch": "none"}, **_prefetch())
    assert "--prefetch" not in words and "added by Keras, not by your options" in words


def _shuffle(**extra):
    stage = {
        "name": "Shuffle",
        "label": "shuffle buffer (299 images)",
        "peak_buffered_bytes": 150 * MiB,
        **extra,
    }
    return {"pipeline": {"stages": [stage]}, "measured_overhead_bytes": 400 * MiB}


def test_shuffle_advice_names_a_buffer_option_only_where_the_loader_has_one_and_it_frees_memory():
    shuffled = {**TFDATA, "shuffle": True}
    assert "--shuffle-buffer" in advice(f.shuffle_buffer, shuffled, **_shuffle())
    assert "--shuffle-buffer" not in advice(f.shuffle_buffer, {**KERAS, "shuffle": True}, **_shuffle())
    # its tensors are the cache's: lowering the buffer frees nothing
    assert "--shuffle-buffer" not in advice(f.shuffle_buffer, shuffled, **_shuffle(shares_cache=True))


def test_workers_advice_fits_the_workers_and_multiprocessing_the_run_has():
    pydataset = {**KERAS, "loader": "keras_pydataset", "mode": "fit", "max_queue_size": 10}
    assert "--use-multiprocessing" in advice(
        f.workers_memory, {**pydataset, "workers": 4, "use_multiprocessing": True}
    )
    assert "--use-multiprocessing" not in advice(f.workers_memory, {**pydataset, "workers": 4})
    assert "--workers" not in advice(
        f.workers_memory, {**pydataset, "workers": 1, "use_multiprocessing": True}
    )


FDS = {"epochs": [{"index": i, "fds_end": 20 + 5 * i} for i in range(3)], "fds": {"start": 12}}


def test_fd_advice_names_close_and_collect_only_for_its_loader_when_off():
    generator = {**KERAS, "loader": "image_data_generator"}
    assert "--close-and-collect" in advice(f.fd_growth, generator, **FDS)
    assert "--close-and-collect" not in advice(f.fd_growth, {**generator, "close_and_collect": True}, **FDS)
    assert "--close-and-collect" not in advice(f.fd_growth, TFDATA, **FDS)


GC = {"epochs": [{"index": 0, "gc_pause_seconds": 0.5, "seconds": 2.0}], "gc": {"collections": [9, 1, 0]}}


def test_gc_advice_suggests_a_tfdata_loader_only_to_a_python_loader():
    assert "tf.data loader" in advice(f.gc_pressure, {**KERAS, "loader": "eager_loop"}, **GC)
    assert "tf.data loader" not in advice(f.gc_pressure, TFDATA, **GC)


def test_dtype_no_saving_is_silent_for_float32():
    assert f.dtype_no_saving(ctx({**KERAS, "dtype": "float16"})) is not None
    assert f.dtype_no_saving(ctx({**KERAS, "dtype": "float32"})) is None


PARTIAL = [{"catalogue_id": "partial_cache", "count": 1, "per_epoch": [1]}]


def test_partial_cache_advice_suggests_steps_only_when_unset():
    config = {**TFDATA, "cache": "memory"}
    assert "--steps" in advice(f.partial_cache, config, groups=PARTIAL)
    assert "--steps" not in advice(f.partial_cache, {**config, "steps": 10}, groups=PARTIAL)


def test_input_bound_advice_drops_options_already_set_or_refused():
    fit = {**TFDATA, "mode": "fit"}
    rates = {"steady_images_per_second": 95.0}
    words = advice(f.input_bound, fit, iterate=100.0, **rates)
    assert "--num-parallel-calls" in words and "--cache memory" in words and "--prefetch" in words
    done = {**fit, "num_parallel_calls": "auto", "prefetch": "auto", "cache": "memory"}
    words = advice(f.input_bound, done, iterate=100.0, **rates)
    assert "--num-parallel-calls" not in words and "--cache memory" not in words and "--prefetch" not in words
    # keras_directory takes --num-parallel-calls only with a cast or augmentation map
    assert "--num-parallel-calls" not in advice(
        f.input_bound, {**KERAS, "mode": "fit"}, iterate=100.0, **rates
    )


def test_autotune_advice_pins_only_options_the_run_set_to_auto_and_omits_missing_budgets():
    pipeline = {"ram_budget_bytes": None, "cpu_budget": None, "stages": [
        {"name": "Prefetch", "label": "prefetch", "autotune": {"buffer_size": 4}}]}  # fmt: skip
    found = f.autotune_choice(ctx({**KERAS, "mode": "fit"}, pipeline=pipeline))
    assert "--prefetch" not in found["advice"]
    assert "n/a" not in found["detail"] and "None" not in found["detail"]
    found = f.autotune_choice(ctx({**KERAS, "prefetch": "auto"}, pipeline=pipeline))
    assert "--prefetch" in found["advice"]


def _neck(stage, bound=None, **extra):
    pipeline = {"bottleneck": {"stage": stage, "images_per_second": 300.0, **extra}, "stages": []}
    return {"pipeline": {**pipeline, "bound": bound or {}}}


def test_bottleneck_advice_fits_the_config_and_the_bound():
    mapped = _neck("parallel map in flight")
    assert "--cache memory" in advice(f.bottleneck_stage, TFDATA, **mapped)
    assert "--cache memory" not in advice(f.bottleneck_stage, {**TFDATA, "cache": "memory"}, **mapped)
    compute = _neck("parallel map in flight", {"kind": "compute", "detail": "the model's step sets the pace"})
    assert "--num-parallel-calls" not in advice(f.bottleneck_stage, {**TFDATA, "mode": "fit"}, **compute)
    assert "--dtype uint8" not in advice(f.bottleneck_stage, {**TFDATA, "dtype": "uint8"}, **_neck("batch"))
    shuffled = {**KERAS, "shuffle": True}
    assert "--shuffle-buffer" not in advice(
        f.bottleneck_stage, shuffled, **_neck("shuffle buffer (8 elements)")
    )


def test_a_stage_rate_below_the_measured_rate_is_not_called_a_bound():
    epochs = [{"index": i, "images": 515, "seconds": 1.0} for i in range(3)]  # 515 img/s measured
    summary = {"epochs": epochs, **_neck("parallel map in flight")}
    summary["pipeline"]["bottleneck"]["images_per_second"] = 392.0
    assert "bounds the pipeline" not in bound_sentence(summary)
    found = f.bottleneck_stage(ctx(TFDATA, **summary))
    assert "not a bound" in found["detail"]
    bound = fit_bound([], [], {}, 515.0, {"images_per_second": 392.0})
    assert bound["kind"] is None  # 131% of a "capacity" is no capacity
