"""Analysis on synthetic runs: summary, leak verdict, memory model arithmetic, findings."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from diagnostics import analysis
from diagnostics.analysis import analyze, leak_verdict, memory_model

MiB = 1024**2
BASE = 600 * MiB


def make_run(
    epoch_end_rss,
    *,
    config=None,
    images=100,
    seconds=1.0,
    gc_pause=0.001,
    fds=None,
    done=True,
    log_lines=(),
    samples_per_epoch=20,
    jitter_bytes=0,
):
    """Frames for a run whose epoch i ends at epoch_end_rss[i] (bytes)."""
    config = {"dataset": "d", "loader": "keras_directory", "epochs": len(epoch_end_rss), **(config or {})}
    rng = random.Random(0)
    events, samples, t = [], [], 10.0
    events.append({"t": t, "kind": "ready", "data": {"rss_bytes": BASE, "pid": 1}})
    previous = BASE
    for i, end in enumerate(epoch_end_rss):
        events.append({"t": t + 0.01, "kind": "epoch_start", "data": {"epoch": i}})
        for k in range(samples_per_epoch):
            frac = (k + 1) / samples_per_epoch
            rss = previous + (end - previous) * frac + (rng.uniform(-1, 1) * jitter_bytes)
            fd = (fds[i] if fds else 10) if k == samples_per_epoch - 1 else 10
            samples.append(
                {
                    "t": t + seconds * frac,
                    "rss_bytes": int(rss),
                    "main_rss_bytes": int(rss),
                    "processes": {},
                    "fds": fd,
                    "threads": 5,
                    "cpu_percent": 100.0,
                    "vmhwm_bytes": int(max(rss, previous)),
                }
            )
        t += seconds
        events.append(
            {
                "t": t,
                "kind": "epoch_end",
                "data": {"epoch": i, "images": images, "seconds": seconds, "rss_bytes": int(end)},
            }
        )
        events.append(
            {
                "t": t + 0.001,
                "kind": "gc",
                "data": {"epoch": i, "collections": [3, 1, 0], "pause_seconds": gc_pause},
            }
        )
        previous = end
        t += 0.01
    if done:
        peak = max([BASE, *epoch_end_rss]) + 5 * MiB
        events.append(
            {"t": t + 0.1, "kind": "done", "data": {"vmhwm_bytes": peak, "rss_bytes": int(previous)}}
        )
    logs = pd.DataFrame(
        [{"t": 10.5, "stream": "stderr", "line": line} for line in log_lines], columns=["t", "stream", "line"]
    )
    run = {"id": 1, "status": "completed" if done else "killed_budget", "config": config}
    return run, pd.DataFrame(samples), pd.DataFrame(events), logs


def ids(result):
    return {f["id"] for f in result["findings"]}


SCAN = {"num_images": 550, "classes": ["a", "b", "c", "d", "e"], "sizes": [(200, 100)] * 550}


# -- summary ---------------------------------------------------------------------------------------


def test_summary_numbers_follow_the_contract():
    run, samples, events, logs = make_run([700 * MiB, 702 * MiB, 701 * MiB], images=550, seconds=2.0)
    summary = analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12)["summary"]
    assert summary["baseline_rss_bytes"] == BASE
    assert summary["peak_rss_bytes"] == 707 * MiB  # done.vmhwm_bytes
    assert summary["measured_overhead_bytes"] == 107 * MiB
    assert summary["images_per_second"] == pytest.approx(275.0)
    assert summary["steady_images_per_second"] == pytest.approx(275.0)
    assert [e["index"] for e in summary["epochs"]] == [0, 1, 2]
    assert summary["epochs"][1]["rss_end_bytes"] == 702 * MiB
    assert summary["gc"] == {"collections": [9, 3, 0], "pause_seconds": pytest.approx(0.003)}
    assert summary["fds"] == {"start": 10, "max": 10, "end": 10}
    assert summary["samples"] == 60
    assert summary["duration_seconds"] > 6.0
    assert summary["missing"] == []


def test_steady_rate_excludes_the_first_epoch():
    run, samples, events, logs = make_run([700 * MiB] * 3)
    events.loc[events["kind"] == "epoch_end", "data"] = [
        {"epoch": 0, "images": 100, "seconds": 4.0, "rss_bytes": 700 * MiB},
        {"epoch": 1, "images": 100, "seconds": 1.0, "rss_bytes": 700 * MiB},
        {"epoch": 2, "images": 100, "seconds": 1.0, "rss_bytes": 700 * MiB},
    ]
    summary = analyze(run, samples, events, logs, None)["summary"]
    # One figure (issue 13 item 8): the all-epoch mean (50) is not reported anywhere.
    assert summary["images_per_second"] == pytest.approx(100.0)
    assert summary["steady_images_per_second"] == pytest.approx(100.0)
    assert summary["throughput"]["epochs_used"] == [2, 3] and summary["throughput"]["stable"]


def test_partial_run_without_done_uses_sampled_vmhwm_and_says_so():
    run, samples, events, logs = make_run([700 * MiB, 900 * MiB], done=False)
    result = analyze(run, samples, events, logs, SCAN)
    summary = result["summary"]
    assert summary["peak_rss_bytes"] == 900 * MiB
    assert "sampled VmHWM" in summary["peak_source"]
    assert any("done event" in m for m in summary["missing"])
    assert summary["leak_bytes_per_epoch"] is None


def test_a_run_stopped_before_ready_has_no_baseline_and_says_so():
    run, samples, events, logs = make_run([700 * MiB, 900 * MiB], done=False)
    events = events[events["kind"] != "ready"].reset_index(drop=True)
    samples.loc[0, ["rss_bytes", "main_rss_bytes"]] = 200 * 1024  # a process that just started
    summary = analyze(run, samples, events, logs, SCAN)["summary"]
    # The first sample of a process still importing is no baseline (issue 22 item 10).
    assert summary["baseline_rss_bytes"] is None
    assert summary["measured_overhead_bytes"] is None
    assert any("no baseline" in m for m in summary["missing"])
    assert summary["peak_rss_bytes"] == 900 * MiB


def test_empty_run_does_not_raise():
    run = {"id": 1, "status": "failed", "config": {"dataset": "d", "loader": "keras_directory"}}
    result = analyze(run, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), None)
    assert result["summary"]["peak_rss_bytes"] is None
    assert result["summary"]["epochs"] == []
    assert result["log_groups"] == []


# -- leak verdict on synthetic series --------------------------------------------------------------


def test_flat_series_is_not_a_leak():
    verdict = leak_verdict([700 * MiB, 701 * MiB, 700 * MiB, 701 * MiB], BASE)
    assert not verdict["growing"]
    assert abs(verdict["leak_bytes_per_epoch"]) < MiB


def test_growing_series_is_a_leak_with_the_right_slope():
    series = [BASE + (i + 1) * 100 * MiB for i in range(5)]
    verdict = leak_verdict(series, BASE)
    assert verdict["growing"]
    assert verdict["leak_bytes_per_epoch"] == pytest.approx(100 * MiB)
    assert verdict["epochs_used"] == [1, 2, 3, 4]


def test_noisy_series_with_big_swings_stays_inside_the_noise_band():
    # Slope ~ +20 MiB/epoch (above the 16 MiB floor) but residuals of +-150 MiB: not a verdict.
    series = [700, 900, 640, 960, 700, 1000]
    verdict = leak_verdict([v * MiB for v in series], BASE)
    assert verdict["leak_bytes_per_epoch"] > 16 * MiB
    assert not verdict["growing"]
    assert "noise band" in verdict["reason"]


def test_step_after_warm_up_is_not_a_leak():
    # Epoch 1 fills a 300 MiB cache, then flat: warm-up is excluded from the slope.
    verdict = leak_verdict([900 * MiB, 902 * MiB, 901 * MiB, 902 * MiB], BASE)
    assert not verdict["growing"]


def test_slow_growth_below_two_percent_of_a_big_baseline_is_not_a_leak():
    baseline = 4096 * MiB  # 2% = 82 MiB > 16 MiB floor
    series = [baseline + i * 50 * MiB for i in range(5)]
    verdict = leak_verdict(series, baseline)
    assert verdict["threshold_bytes_per_epoch"] == pytest.approx(0.02 * baseline)
    assert not verdict["growing"]


def test_fewer_than_three_epochs_gives_null_with_reason():
    verdict = leak_verdict([700 * MiB, 900 * MiB], BASE)
    assert verdict["leak_bytes_per_epoch"] is None
    assert "at least 3" in verdict["reason"]


def test_three_epochs_use_sampled_jitter_as_noise():
    series = [700 * MiB, 800 * MiB, 900 * MiB]
    assert leak_verdict(series, BASE, jitter_bytes=10 * MiB)["growing"]
    assert not leak_verdict(series, BASE, jitter_bytes=60 * MiB)["growing"]


def test_memory_growth_finding_cites_the_slope():
    run, samples, events, logs = make_run(
        [BASE + (i + 1) * 110 * MiB for i in range(4)], config={"loader": "eager_loop", "keep_decoded": True}
    )
    result = analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12)
    growth = next(f for f in result["findings"] if f["id"] == "memory_growth")
    assert "110.0 MiB per epoch" in growth["detail"]
    assert "--keep-decoded" in growth["advice"]
    assert result["summary"]["leak_bytes_per_epoch"] == pytest.approx(110 * MiB)


def test_flat_run_has_no_memory_growth_finding():
    run, samples, events, logs = make_run([700 * MiB, 703 * MiB, 701 * MiB, 702 * MiB], jitter_bytes=2 * MiB)
    assert "memory_growth" not in ids(analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12))


# -- memory model arithmetic -----------------------------------------------------------------------


def cfg(**kw):
    return {"dataset": "d", "loader": "tfdata_map_batch", "batch_size": 32, "image_size": [128, 128], **kw}


def test_element_and_batch_bytes():
    model, _ = memory_model(cfg(), SCAN, cpu_count=2)
    assert model["decoded_element"] == 128 * 128 * 3 * 4
    assert model["batch"] == 32 * 128 * 128 * 3 * 4
    assert "batch_before_cast" not in model


def test_cast_after_decode_keeps_a_float32_batch():
    model, notes = memory_model(cfg(dtype="uint8"), SCAN, cpu_count=2)
    assert model["batch"] == 32 * 128 * 128 * 3
    assert model["batch_before_cast"] == 32 * 128 * 128 * 3 * 4
    assert "float32" in notes["batch_before_cast"]
    numpy_model, _ = memory_model(cfg(loader="pil_generator", dtype="uint8"), SCAN, cpu_count=2)
    assert "batch_before_cast" not in numpy_model


def test_grayscale_has_one_channel():
    model, _ = memory_model(cfg(color_mode="grayscale"), SCAN, cpu_count=2)
    assert model["decoded_element"] == 128 * 128 * 4


def test_cache_is_the_whole_dataset_or_steps_times_batch():
    model, _ = memory_model(cfg(cache="memory"), SCAN, cpu_count=2)
    assert model["cache"] == 550 * 128 * 128 * 3 * 4
    limited, notes = memory_model(cfg(cache="memory", steps=5), SCAN, cpu_count=2)
    assert limited["cache"] == 5 * 32 * 128 * 128 * 3 * 4
    assert "steps" in notes["cache"]
    file_model, _ = memory_model(cfg(cache="file"), SCAN, cpu_count=2)
    assert "cache" not in file_model


def test_prefetch_fixed_and_auto_bound():
    batch = 32 * 128 * 128 * 3 * 4
    assert memory_model(cfg(prefetch=3), SCAN, cpu_count=2)[0]["prefetch_buffers"] == 3 * batch
    model, notes = memory_model(cfg(prefetch="auto"), SCAN, cpu_count=2)
    assert model["prefetch_buffers"] == analysis.PREFETCH_AUTO_BOUND_BATCHES * batch
    assert "bound" in notes["prefetch_buffers"]
    # keras_directory prefetches with AUTOTUNE by itself.
    assert "prefetch_buffers" in memory_model(cfg(loader="keras_directory"), SCAN, cpu_count=2)[0]
    assert "prefetch_buffers" not in memory_model(cfg(), SCAN, cpu_count=2)[0]


def test_parallel_map_in_flight_counts_source_and_resized_image():
    model, _ = memory_model(cfg(num_parallel_calls=4), SCAN, cpu_count=2)
    assert model["parallel_map_in_flight"] == 4 * (200 * 100 * 3 + 128 * 128 * 3 * 4)
    auto, _ = memory_model(cfg(num_parallel_calls="auto"), SCAN, cpu_count=8)
    assert auto["parallel_map_in_flight"] == 8 * (200 * 100 * 3 + 128 * 128 * 3 * 4)


def test_shuffle_buffer_of_images_vs_paths():
    model, _ = memory_model(cfg(shuffle=True, shuffle_buffer=200), SCAN, cpu_count=2)
    assert model["shuffle_buffer"] == 200 * 128 * 128 * 3 * 4
    paths, _ = memory_model(cfg(loader="keras_directory", shuffle=True), SCAN, cpu_count=2)
    assert paths["shuffle_buffer"] == 550 * analysis.PATH_ELEMENT_BYTES  # buffer capped at the dataset


def test_pydataset_queue_doubles_with_multiprocessing():
    batch = 32 * 128 * 128 * 3 * 4
    threads, _ = memory_model(cfg(loader="keras_pydataset", workers=2, max_queue_size=10), SCAN, cpu_count=2)
    assert threads["pydataset_queue"] == (10 + 2) * batch
    procs, _ = memory_model(
        cfg(loader="keras_pydataset", workers=2, max_queue_size=10, use_multiprocessing=True),
        SCAN,
        cpu_count=2,
    )
    assert procs["pydataset_queue"] == (20 + 2) * batch


def test_fit_mode_models_weights_and_adam_slots():
    model, notes = memory_model(cfg(mode="fit", model="mobilenet_v2"), SCAN, cpu_count=2)
    params = 2_257_984 + 1280 * 5 + 5
    assert model["model_weights_and_optimizer"] == params * 16
    assert "Adam" in notes["model_weights_and_optimizer"]


def test_projection_scales_cache_and_peak_to_the_full_dataset():
    config = cfg(cache="memory", steps=5)
    model, _ = memory_model(config, SCAN, cpu_count=2)
    projection = analysis.project(config, SCAN, model, 100 * MiB)
    element = 128 * 128 * 3 * 4
    assert projection["scaled"]
    assert projection["cache_bytes"] == 550 * element
    assert projection["peak_overhead_bytes"] == 100 * MiB + (550 - 160) * element


# -- findings --------------------------------------------------------------------------------------


def test_cache_size_and_cache_exceeds_ram():
    run, samples, events, logs = make_run([900 * MiB] * 3, config={"cache": "memory"})
    result = analyze(run, samples, events, logs, SCAN, available_ram_bytes=100 * MiB)
    assert {"cache_size", "cache_exceeds_ram"} <= ids(result)
    cache = next(f for f in result["findings"] if f["id"] == "cache_size")
    assert cache["evidence"]["modelled_cache_bytes"] == 550 * 128 * 128 * 3 * 4
    assert "--cache file" in cache["advice"]
    plenty = analyze(run, samples, events, logs, SCAN, available_ram_bytes=64 * 1024 * MiB)
    assert "cache_exceeds_ram" not in ids(plenty)


def test_fd_growth_needs_a_rise_at_every_epoch_end():
    run, samples, events, logs = make_run([700 * MiB] * 4, fds=[20, 30, 40, 50])
    assert "fd_growth" in ids(analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12))
    run, samples, events, logs = make_run([700 * MiB] * 4, fds=[20, 30, 30, 50])
    assert "fd_growth" not in ids(analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12))


def test_gc_pressure_above_five_percent_of_epoch_time():
    run, samples, events, logs = make_run([700 * MiB] * 3, gc_pause=0.08, seconds=1.0)
    result = analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12)
    gc = next(f for f in result["findings"] if f["id"] == "gc_pressure")
    assert "8.0%" in gc["detail"]
    run, samples, events, logs = make_run([700 * MiB] * 3, gc_pause=0.02, seconds=1.0)
    assert "gc_pressure" not in ids(analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12))


def test_dtype_no_saving_only_when_cast_follows_a_float32_decode():
    run, samples, events, logs = make_run([700 * MiB] * 3, config={"dtype": "float16"})
    result = analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12)
    finding = next(f for f in result["findings"] if f["id"] == "dtype_no_saving")
    assert finding["evidence"]["evidence_kind"].startswith("memory model")
    assert finding["evidence"]["modelled_total_float32_bytes"] > finding["evidence"]["modelled_total_bytes"]
    run, samples, events, logs = make_run(
        [700 * MiB] * 3, config={"loader": "pil_generator", "dtype": "uint8"}
    )
    assert "dtype_no_saving" not in ids(analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12))


def test_partial_cache_finding_from_the_log_line():
    line = (
        "W0000 00:00:1795300964.1    6772 cache_dataset_ops.cc:912] The calling iterator did not fully read "
        "the dataset being cached. In order to avoid unexpected truncation of the dataset, the partially cached "
        "contents of the dataset  will be discarded."
    )
    run, samples, events, logs = make_run([700 * MiB] * 3, config={"cache": "memory"}, log_lines=[line])
    result = analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12)
    finding = next(f for f in result["findings"] if f["id"] == "partial_cache")
    assert finding["severity"] == "warning"

    # TF 2.21 logs the same line for a file cache read to the end (fixture file_cache_full_read):
    # with every epoch complete, it is reported as expected, not as a discarded cache.
    run, samples, events, logs = make_run([700 * MiB] * 3, config={"cache": "file"}, log_lines=[line])
    finding = next(
        f
        for f in analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12)["findings"]
        if f["id"] == "partial_cache"
    )
    assert finding["severity"] == "info" and "100 images" in finding["detail"]


def test_prefetch_and_shuffle_buffer_findings():
    run, samples, events, logs = make_run(
        [700 * MiB] * 3,
        config={"loader": "tfdata_map_batch", "prefetch": 8, "shuffle": True, "shuffle_buffer": 500},
    )
    found = ids(analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12))
    assert {"prefetch_buffers", "shuffle_buffer"} <= found


def test_workers_memory_for_multiprocessing_pydataset():
    run, samples, events, logs = make_run(
        [700 * MiB] * 3, config={"loader": "keras_pydataset", "workers": 4, "use_multiprocessing": True}
    )
    samples["rss_bytes"] = samples["main_rss_bytes"] + 300 * MiB
    result = analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12)
    finding = next(f for f in result["findings"] if f["id"] == "workers_memory")
    assert finding["evidence"]["children_peak_rss_bytes"] == 300 * MiB


def test_input_bound_needs_an_iterate_reference():
    run, samples, events, logs = make_run([700 * MiB] * 3, config={"mode": "fit"}, images=90, seconds=1.0)
    assert "input_bound" not in ids(analyze(run, samples, events, logs, SCAN, available_ram_bytes=10**12))
    bound = analyze(
        run, samples, events, logs, SCAN, available_ram_bytes=10**12, iterate_images_per_second=100.0
    )
    assert "input_bound" in ids(bound)
    fast = analyze(
        run, samples, events, logs, SCAN, available_ram_bytes=10**12, iterate_images_per_second=1000.0
    )
    assert "input_bound" not in ids(fast)


def test_every_finding_has_the_contract_keys():
    run, samples, events, logs = make_run(
        [BASE + (i + 1) * 200 * MiB for i in range(4)],
        config={"cache": "memory", "dtype": "uint8"},
        fds=[10, 11, 12, 13],
        gc_pause=0.5,
    )
    result = analyze(run, samples, events, logs, SCAN, available_ram_bytes=100 * MiB)
    assert len(result["findings"]) >= 5
    for finding in result["findings"]:
        assert set(finding) == {"id", "severity", "title", "detail", "advice", "evidence"}
        assert finding["severity"] in ("info", "warning", "critical")
        assert any(ch.isdigit() for ch in finding["detail"])
        assert finding["advice"].strip()
