"""Turn a trial's samples, events and logs into numbers, a leak verdict and findings with evidence.

``analyze(run, samples, events, logs, scan)`` is the one entry point the runner calls; the pieces
(``summarise``, ``leak_verdict``, ``memory_model``, ``project``, ``findings``) are public so tests
and benchmarks can use them on synthetic data. Everything works on partial data: a run killed by
the budget has no ``done`` event and maybe half an epoch; then the numbers that cannot be known
are ``None`` and the summary's ``missing`` list says why.

Every finding cites the numbers behind it (``detail``) and names the option to change (``advice``);
``evidence`` carries the same numbers for the UI and the JSON export.
"""

from __future__ import annotations

import math
import os
from typing import Any

from diagnostics.logs import group_has, group_logs

__all__ = [
    "DTYPE_BYTES",
    "analyze",
    "findings",
    "leak_verdict",
    "memory_model",
    "model_param_count",
    "project",
    "summarise",
]

MiB = 1024**2
DTYPE_BYTES = {"float32": 4, "float16": 2, "uint8": 1}

# Leak rule of issue 4: the slope must beat both this floor and 2% of the baseline per epoch.
LEAK_FLOOR_BYTES = 16 * MiB
LEAK_BASELINE_FRACTION = 0.02
GC_PAUSE_FRACTION = 0.05
# Buffers below this are not worth a finding: they are smaller than the run-to-run noise of RSS.
BUFFER_FINDING_FLOOR_BYTES = 32 * MiB
# tf.data AUTOTUNE has no fixed size; this bound (in batches) is what we model and say we model.
PREFETCH_AUTO_BOUND_BATCHES = 4
# A file path in a shuffle buffer of paths (keras_directory shuffles paths, not pixels).
PATH_ELEMENT_BYTES = 256
DEFAULT_SHUFFLE_BUFFER = {"keras_directory": 1024}
DEFAULT_SHUFFLE_BUFFER_ELEMENTS = 1000

# How each loader holds pixels. "working" is the dtype pixels are in when a batch is built: the
# tf.image resize and the Keras legacy loader produce float32 whatever dtype is asked for, and the
# cast comes after; the PIL/NumPy loaders convert straight to the requested dtype.
LOADER_FACTS: dict[str, dict[str, Any]] = {
    "keras_directory": {
        "working": "float32",
        "builtin_parallel": "auto",  # image_dataset_from_directory maps with AUTOTUNE
        "builtin_prefetch": "auto",  # ... and ends with prefetch(AUTOTUNE)
        "shuffles": "paths",
    },
    "tfdata_map_batch": {"working": "float32", "shuffles": "elements"},
    "tfdata_batch_map": {"working": "float32", "shuffles": "paths"},
    "eager_loop": {"working": "float32", "shuffles": "paths"},
    "image_data_generator": {"working": "float32", "shuffles": "paths"},
    "keras_pydataset": {"working": None, "shuffles": "paths"},
    "pil_generator": {"working": None, "shuffles": "paths"},
}


# -- small helpers ---------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _mib(value: float | int | None) -> str:
    return "n/a" if value is None else f"{value / MiB:,.1f} MiB"


def _config(run: dict[str, Any]) -> dict[str, Any]:
    config = run.get("config") or {}
    if hasattr(config, "to_dict"):
        config = config.to_dict()
    return dict(config)


def _events_of(events: Any, kind: str) -> list[dict[str, Any]]:
    """Event payloads of one kind, each with its ``t``, in time order."""
    if events is None or len(events) == 0:
        return []
    out = []
    for row in events.itertuples(index=False):
        if getattr(row, "kind", None) != kind:
            continue
        data = getattr(row, "data", None)
        data = dict(data) if isinstance(data, dict) else {}
        data.setdefault("t", _num(getattr(row, "t", None)))
        out.append(data)
    out.sort(key=lambda d: d.get("t") or 0.0)
    return out


def _column(samples: Any, name: str) -> list[float]:
    if samples is None or len(samples) == 0 or name not in samples:
        return []
    return [v for v in (_num(x) for x in samples[name].tolist()) if v is not None]


def _sample_at(samples: Any, t: float | None, name: str) -> float | None:
    """The last sample of ``name`` at or before t (the first after, if none before)."""
    if t is None or samples is None or len(samples) == 0 or name not in samples:
        return None
    before = samples[samples["t"] <= t]
    frame = before if len(before) else samples
    values = [_num(v) for v in (frame[name].tolist()[-1:] if len(before) else frame[name].tolist()[:1])]
    return values[0] if values else None


def _fit_line(xs: list[float], ys: list[float]) -> tuple[float, float, list[float]]:
    """Least squares y = a + b x; returns (b, a, residuals)."""
    n = len(xs)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = 0.0 if sxx == 0 else sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys, strict=True)]
    return slope, intercept, residuals


# -- leak verdict ----------------------------------------------------------------------------------


def leak_verdict(
    epoch_end_rss_bytes: list[float | None],
    baseline_rss_bytes: float | None,
    jitter_bytes: float | None = None,
) -> dict[str, Any]:
    """Least-squares slope of epoch-end RSS over epochs 2..N (epoch 1 is warm-up).

    The noise band is two standard errors of the slope when there are 3 or more points after
    warm-up; with only 2 points there are no residuals, so the band is twice ``jitter_bytes`` (the
    RSS fluctuation sampled within the last epoch), because a one-epoch difference smaller than
    that jitter cannot be told from it.
    """
    values = [_num(v) for v in epoch_end_rss_bytes]
    baseline = _num(baseline_rss_bytes) or 0.0
    threshold = max(LEAK_FLOOR_BYTES, LEAK_BASELINE_FRACTION * baseline)
    result: dict[str, Any] = {
        "leak_bytes_per_epoch": None,
        "noise_band_bytes_per_epoch": None,
        "threshold_bytes_per_epoch": threshold,
        "epochs_used": [],
        "residual_std_bytes": None,
        "growing": False,
        "reason": "",
    }
    points = [(i, v) for i, v in enumerate(values) if i >= 1 and v is not None]
    if len(values) < 3:
        result["reason"] = (
            f"{len(values)} epoch(s) measured; a leak verdict needs at least 3 (epoch 1 is warm-up, "
            "the slope is fitted over epochs 2..N)"
        )
        return result
    if len(points) < 2:
        result["reason"] = "fewer than 2 epoch-end RSS values after warm-up"
        return result
    xs = [float(i) for i, _ in points]
    ys = [v for _, v in points]
    slope, _, residuals = _fit_line(xs, ys)
    result["epochs_used"] = [i for i, _ in points]
    result["leak_bytes_per_epoch"] = slope
    if len(points) >= 3:
        dof = len(points) - 2
        residual_std = math.sqrt(sum(r * r for r in residuals) / dof)
        mean_x = sum(xs) / len(xs)
        sxx = sum((x - mean_x) ** 2 for x in xs)
        noise = 2.0 * residual_std / math.sqrt(sxx)
        result["residual_std_bytes"] = residual_std
        method = f"2 x standard error of the slope over {len(points)} epochs"
    else:
        noise = 2.0 * (_num(jitter_bytes) or 0.0)
        method = "2 x the RSS jitter sampled within the last epoch (only 2 epochs after warm-up)"
    result["noise_band_bytes_per_epoch"] = noise
    result["noise_method"] = method
    growing = slope > threshold and slope > noise
    result["growing"] = growing
    if growing:
        result["reason"] = (
            f"epoch-end RSS rises {_mib(slope)} per epoch over epochs {points[0][0] + 1}..{points[-1][0] + 1}, "
            f"above the threshold {_mib(threshold)} and the noise band {_mib(noise)}"
        )
    elif slope <= threshold:
        result["reason"] = f"slope {_mib(slope)}/epoch is below the threshold {_mib(threshold)}/epoch"
    else:
        result["reason"] = f"slope {_mib(slope)}/epoch is inside the noise band ±{_mib(noise)}/epoch"
    return result


# -- memory model ----------------------------------------------------------------------------------


def model_param_count(config: dict[str, Any], num_classes: int) -> int | None:
    """Parameters of the fit-mode model, from its architecture (no TensorFlow needed)."""
    channels = 1 if config.get("color_mode") == "grayscale" else 3
    model = config.get("model", "tiny_cnn")
    try:
        from diagnostics import models  # the loaders engineer's module; optional here

        counter = getattr(models, "param_count", None)
        if counter is not None:
            return int(counter(model, tuple(config.get("image_size", (128, 128))), channels, num_classes))
    except ImportError:
        pass
    if model == "mobilenet_v2":
        # keras.applications.MobileNetV2(weights=None, include_top=False) has 2,257,984 parameters
        # whatever the input size; a global-pooling + Dense head adds 1280*K + K.
        return 2_257_984 + 1280 * num_classes + num_classes
    return None


def _source_decoded_bytes(scan: dict[str, Any] | None, channels: int, fallback: int) -> int:
    """Mean uint8 bytes of one image decoded at its own pixel size, before any resize."""
    sizes = (scan or {}).get("sizes") or []
    if not sizes:
        return fallback
    mean_pixels = sum(int(w) * int(h) for w, h in sizes) / len(sizes)
    return int(mean_pixels * channels)


def memory_model(
    config: dict[str, Any], scan: dict[str, Any] | None, cpu_count: int | None = None
) -> tuple[dict[str, int], dict[str, str]]:
    """Expected bytes per component for this config and dataset, and a note per component.

    Components with nothing to hold are left out. Notes say what was assumed, and which numbers are
    bounds rather than expectations.
    """
    cpu_count = cpu_count or os.cpu_count() or 1
    loader = config.get("loader", "keras_directory")
    facts = LOADER_FACTS.get(loader, {"working": "float32", "shuffles": "paths"})
    height, width = (int(v) for v in config.get("image_size", (128, 128)))
    channels = 1 if config.get("color_mode") == "grayscale" else 3
    dtype = config.get("dtype", "float32")
    out_bytes = DTYPE_BYTES.get(dtype, 4)
    working = facts.get("working") or dtype
    work_bytes = DTYPE_BYTES.get(working, 4)
    pixels = height * width * channels
    element = pixels * out_bytes
    working_element = pixels * work_bytes
    batch_size = int(config.get("batch_size") or 32)
    batch = batch_size * element
    num_images = int((scan or {}).get("num_images") or 0)
    steps = config.get("steps")
    images_per_epoch = min(num_images, steps * batch_size) if steps and num_images else num_images
    source_element = _source_decoded_bytes(scan, channels, pixels)

    model: dict[str, int] = {}
    notes: dict[str, str] = {}
    model["decoded_element"] = element
    notes["decoded_element"] = f"{height}x{width}x{channels} x {out_bytes} B ({dtype})"
    model["batch"] = batch
    notes["batch"] = f"{batch_size} x {element:,} B"
    if work_bytes > out_bytes:
        model["batch_before_cast"] = batch_size * working_element
        notes["batch_before_cast"] = (
            f"{loader} decodes and resizes to {working} before the cast to {dtype}: a {working} batch "
            f"({batch_size} x {working_element:,} B) exists before each cast"
        )

    prefetch = config.get("prefetch", "none")
    builtin_prefetch = facts.get("builtin_prefetch")
    if prefetch == "auto" or (prefetch == "none" and builtin_prefetch == "auto"):
        model["prefetch_buffers"] = PREFETCH_AUTO_BOUND_BATCHES * batch
        where = "--prefetch auto" if prefetch == "auto" else f"{loader}'s built-in prefetch(AUTOTUNE)"
        notes["prefetch_buffers"] = (
            f"bound, not a measurement: {where} sizes its buffer at run time; modelled as up to "
            f"{PREFETCH_AUTO_BOUND_BATCHES} batches (tf.data may grow it further within its RAM budget)"
        )
    elif isinstance(prefetch, int):
        model["prefetch_buffers"] = prefetch * batch
        notes["prefetch_buffers"] = f"{prefetch} batches x {batch:,} B"

    parallel = config.get("num_parallel_calls", "none")
    if parallel == "none" and facts.get("builtin_parallel") == "auto":
        parallel = "auto"
    if parallel != "none" and loader in ("keras_directory", "tfdata_map_batch", "tfdata_batch_map"):
        in_flight = cpu_count if parallel == "auto" else int(parallel)
        per_call = source_element + working_element
        if loader == "tfdata_batch_map":
            per_call = batch_size * per_call  # each call decodes a whole batch
        model["parallel_map_in_flight"] = in_flight * per_call
        notes["parallel_map_in_flight"] = (
            f"{in_flight} calls in flight x ({source_element:,} B decoded uint8 at source size + "
            f"{working_element:,} B resized {working})"
            + (" (AUTOTUNE: bound = CPU count)" if parallel == "auto" else "")
        )

    cache = config.get("cache", "none")
    if cache == "memory":
        cached = images_per_epoch * element
        model["cache"] = cached
        limited = " (steps limit the images read)" if images_per_epoch < num_images else ""
        notes["cache"] = f"{images_per_epoch} images x {element:,} B{limited}"
    elif cache == "file":
        notes["cache"] = "file cache: on disk, not in the process's RSS (the OS page cache may still hold it)"

    if config.get("shuffle"):
        shuffles = facts.get("shuffles", "paths")
        buffer = config.get("shuffle_buffer") or DEFAULT_SHUFFLE_BUFFER.get(
            loader, DEFAULT_SHUFFLE_BUFFER_ELEMENTS
        )
        if num_images:
            buffer = min(buffer, num_images)
        if shuffles == "elements":
            model["shuffle_buffer"] = buffer * element
            notes["shuffle_buffer"] = f"{buffer} decoded images x {element:,} B"
        else:
            model["shuffle_buffer"] = buffer * PATH_ELEMENT_BYTES
            notes["shuffle_buffer"] = (
                f"{buffer} file paths (shuffled before decoding): about {PATH_ELEMENT_BYTES} B each"
            )

    if loader == "keras_pydataset":
        workers = int(config.get("workers") or 1)
        queue = int(config.get("max_queue_size") or 10)
        multiprocessing = bool(config.get("use_multiprocessing"))
        copies = 2 if multiprocessing else 1
        model["pydataset_queue"] = (queue * copies + workers) * batch
        notes["pydataset_queue"] = (
            f"({queue} queued batches x {copies} copies{' (pickled across processes)' if multiprocessing else ''} "
            f"+ {workers} batches being built) x {batch:,} B (keras#11671)"
        )

    if loader == "eager_loop" and config.get("keep_decoded"):
        epochs = int(config.get("epochs") or 1)
        model["kept_decoded"] = epochs * images_per_epoch * element
        notes["kept_decoded"] = (
            f"{epochs} epochs x {images_per_epoch} images x {element:,} B kept in a Python list"
        )

    if config.get("mode") == "fit":
        num_classes = len((scan or {}).get("classes") or []) or 2
        params = model_param_count(config, num_classes)
        if params is not None:
            # float32 weights + gradients + Adam's two slots.
            model["model_weights_and_optimizer"] = params * 4 * 4
            notes["model_weights_and_optimizer"] = (
                f"{params:,} parameters x 4 B x 4 (weights, gradients, Adam m and v); activations not modelled"
            )
        else:
            notes["model_weights_and_optimizer"] = (
                f"parameter count of {config.get('model')} unknown: not modelled"
            )
    return model, notes


def project(
    config: dict[str, Any],
    scan: dict[str, Any] | None,
    model: dict[str, int],
    peak_overhead_bytes: float | None,
) -> dict[str, Any]:
    """Cache and peak scaled to the full scanned dataset when the trial read fewer images."""
    num_images = int((scan or {}).get("num_images") or 0)
    batch_size = int(config.get("batch_size") or 32)
    steps = config.get("steps")
    trial_images = min(num_images, steps * batch_size) if steps and num_images else num_images
    element = model.get("decoded_element", 0)
    out: dict[str, Any] = {
        "full_dataset_images": num_images,
        "trial_images_per_epoch": trial_images,
        "scaled": bool(num_images and trial_images < num_images),
        "cache_bytes": None,
        "peak_overhead_bytes": peak_overhead_bytes,
    }
    growth_per_image = 0
    if config.get("cache") == "memory":
        growth_per_image += element
    if config.get("loader") == "eager_loop" and config.get("keep_decoded"):
        growth_per_image += element * int(config.get("epochs") or 1)
    if config.get("cache") == "memory":
        out["cache_bytes"] = num_images * element
    if peak_overhead_bytes is not None and out["scaled"]:
        out["peak_overhead_bytes"] = peak_overhead_bytes + (num_images - trial_images) * growth_per_image
    out["note"] = (
        f"the trial read {trial_images} of {num_images} images per epoch; cache and per-image growth "
        "are scaled to all images, other buffers do not depend on the dataset size"
        if out["scaled"]
        else "the trial read the whole dataset: no scaling"
    )
    return out


# -- summary ---------------------------------------------------------------------------------------


def summarise(run: dict[str, Any], samples: Any, events: Any) -> dict[str, Any]:
    """The ``summary`` of the --json contract, from whatever part of the run exists."""
    missing: list[str] = []
    ready = (_events_of(events, "ready") or [None])[0]
    done = (_events_of(events, "done") or [None])[-1]
    epoch_ends = _events_of(events, "epoch_end")
    gcs = _events_of(events, "gc")
    gpu_events = _events_of(events, "gpu_memory")

    rss = _column(samples, "rss_bytes")
    main_rss = _column(samples, "main_rss_bytes")
    vmhwm = _column(samples, "vmhwm_bytes")
    fds = _column(samples, "fds")

    if ready is not None and _num(ready.get("rss_bytes")) is not None:
        baseline = _num(ready["rss_bytes"])
    else:
        missing.append("ready event (baseline taken from the first sample)")
        baseline = (main_rss or rss or [None])[0]
    t_ready = ready.get("t") if ready else _num(run.get("t_ready"))

    if done is not None and _num(done.get("vmhwm_bytes")) is not None:
        peak, peak_source = _num(done["vmhwm_bytes"]), "VmHWM at exit"
    elif vmhwm:
        peak, peak_source = max(vmhwm), "max sampled VmHWM (no done event)"
        missing.append("done event (peak from sampled VmHWM)")
    elif main_rss or rss:
        peak, peak_source = max(main_rss or rss), "max sampled RSS (no VmHWM)"
        missing.append("done event and VmHWM samples (peak from sampled RSS)")
    else:
        peak, peak_source = None, "no data"
        missing.append("peak: no samples")
    if done is not None and _num(done.get("rss_bytes")) is not None:
        final = _num(done["rss_bytes"])
    else:
        final = (main_rss or rss or [None])[-1]

    gc_by_epoch: dict[int, dict[str, Any]] = {}
    collections = [0, 0, 0]
    pause_seconds = 0.0
    for event in gcs:
        counts = list(event.get("collections") or [])[:3]
        for i, count in enumerate(counts):
            collections[i] += int(_num(count) or 0)
        pause = _num(event.get("pause_seconds")) or 0.0
        pause_seconds += pause
        if event.get("epoch") is not None:
            gc_by_epoch[int(event["epoch"])] = {"collections": counts, "pause_seconds": pause}

    epochs = []
    for event in epoch_ends:
        index = int(_num(event.get("epoch")) or len(epochs))
        images = int(_num(event.get("images")) or 0)
        seconds = _num(event.get("seconds"))
        row: dict[str, Any] = {
            "index": index,
            "images": images,
            "seconds": seconds,
            "images_per_second": (images / seconds) if seconds else None,
            "rss_end_bytes": _int(event.get("rss_bytes"))
            or _int(_sample_at(samples, event.get("t"), "main_rss_bytes")),
            "tree_rss_end_bytes": _int(_sample_at(samples, event.get("t"), "rss_bytes")),
            "fds_end": _int(_sample_at(samples, event.get("t"), "fds")),
        }
        for key in ("loss", "accuracy", "gpu_current_bytes", "gpu_peak_bytes"):
            if event.get(key) is not None:
                row[key] = event[key]
        if index in gc_by_epoch:
            row["gc_pause_seconds"] = gc_by_epoch[index]["pause_seconds"]
        epochs.append(row)

    total_images = sum(e["images"] for e in epochs)
    total_seconds = sum(e["seconds"] or 0.0 for e in epochs)
    steady = epochs[1:] if len(epochs) > 1 else epochs
    steady_seconds = sum(e["seconds"] or 0.0 for e in steady)

    times = _column(samples, "t") + [
        e["t"] for e in (_events_of(events, "epoch_start") + epoch_ends) if e.get("t")
    ]
    start = t_ready if t_ready is not None else (min(times) if times else None)
    end = done["t"] if done else (max(times) if times else None)
    if not epochs:
        missing.append("epoch_end events: no epoch finished")
    if done is None:
        missing.append("done event: the worker did not finish normally")

    gpu_peaks = [_num(e.get("gpu_peak_bytes")) for e in epoch_ends] + [
        _num(e.get("peak_bytes")) for e in gpu_events
    ]
    gpu_peaks = [g for g in gpu_peaks if g is not None]

    return {
        "status": run.get("status"),
        "baseline_rss_bytes": _int(baseline),
        "peak_rss_bytes": _int(peak),
        "peak_source": peak_source,
        "peak_tree_rss_bytes": _int(max(rss)) if rss else None,
        "final_rss_bytes": _int(final),
        "measured_overhead_bytes": _int(peak - baseline)
        if peak is not None and baseline is not None
        else None,
        "images_per_second": (total_images / total_seconds) if total_seconds else None,
        "steady_images_per_second": (sum(e["images"] for e in steady) / steady_seconds)
        if steady_seconds
        else None,
        "leak_bytes_per_epoch": None,
        "fds": {
            "start": _int(fds[0]) if fds else None,
            "max": _int(max(fds)) if fds else None,
            "end": _int(fds[-1]) if fds else None,
        },
        "gc": {"collections": collections, "pause_seconds": pause_seconds},
        "samples": 0 if samples is None else int(len(samples)),
        "duration_seconds": (end - start) if start is not None and end is not None else None,
        "t_ready": t_ready,
        "epochs": epochs,
        "gpu_peak_bytes": _int(max(gpu_peaks)) if gpu_peaks else None,
        "missing": missing,
    }


def _last_epoch_jitter(samples: Any, events: Any) -> float | None:
    """Std of the main process RSS sampled during the last finished epoch."""
    starts = _events_of(events, "epoch_start")
    ends = _events_of(events, "epoch_end")
    if not starts or not ends or samples is None or len(samples) == 0 or "main_rss_bytes" not in samples:
        return None
    t0 = (
        starts[-1]["t"]
        if starts[-1]["t"] <= ends[-1]["t"]
        else (starts[-2]["t"] if len(starts) > 1 else None)
    )
    if t0 is None:
        return None
    window = samples[(samples["t"] >= t0) & (samples["t"] <= ends[-1]["t"])]
    values = [v for v in (_num(x) for x in window["main_rss_bytes"].tolist()) if v is not None]
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


# -- findings --------------------------------------------------------------------------------------


def _finding(
    id_: str, severity: str, title: str, detail: str, advice: str, **evidence: Any
) -> dict[str, Any]:
    return {
        "id": id_,
        "severity": severity,
        "title": title,
        "detail": detail,
        "advice": advice,
        "evidence": evidence,
    }


def _available_ram_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or /proc unreadable: the finding just cannot be judged
        return None


def _every_epoch_read_fully(summary: dict[str, Any]) -> bool:
    # The worker never breaks out of a tf.data epoch, so equal non-zero counts mean full reads.
    images = [e.get("images") for e in summary.get("epochs") or []]
    return bool(images) and all(n and n == images[0] for n in images)


def findings(
    config: dict[str, Any],
    summary: dict[str, Any],
    log_groups: list[dict[str, Any]],
    *,
    available_ram_bytes: int | None = None,
    iterate_images_per_second: float | None = None,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    model = summary.get("memory_model") or {}
    notes = summary.get("memory_model_notes") or {}
    overhead = summary.get("measured_overhead_bytes")
    baseline = summary.get("baseline_rss_bytes")
    epochs = summary.get("epochs") or []
    leak = summary.get("leak") or {}
    projection = summary.get("projection") or {}
    loader = config.get("loader")

    if leak.get("growing"):
        slope = leak["leak_bytes_per_epoch"]
        used = leak.get("epochs_used") or []
        rss_ends = [e.get("rss_end_bytes") for e in epochs]
        advice = (
            "--keep-decoded keeps every decoded tensor in a Python list: turn it off"
            if loader == "eager_loop" and config.get("keep_decoded")
            else "look for objects kept across epochs (lists of tensors, callbacks history, growing caches); "
            "rerun with more --epochs to confirm the slope"
        )
        out.append(
            _finding(
                "memory_growth",
                "critical" if slope > 4 * leak["threshold_bytes_per_epoch"] else "warning",
                "Memory grows every epoch",
                f"Epoch-end RSS rises {_mib(slope)} per epoch (least squares over epochs "
                f"{used[0] + 1 if used else '?'}..{used[-1] + 1 if used else '?'}), above the threshold "
                f"{_mib(leak['threshold_bytes_per_epoch'])} and the noise band {_mib(leak['noise_band_bytes_per_epoch'])}. "
                f"Epoch-end RSS: {', '.join(_mib(v) for v in rss_ends)}.",
                advice,
                leak_bytes_per_epoch=slope,
                threshold_bytes_per_epoch=leak["threshold_bytes_per_epoch"],
                noise_band_bytes_per_epoch=leak["noise_band_bytes_per_epoch"],
                epoch_end_rss_bytes=rss_ends,
            )
        )

    cache_bytes = model.get("cache")
    if config.get("cache") == "memory" and cache_bytes is not None:
        first_growth = None
        if epochs and baseline is not None and epochs[0].get("rss_end_bytes") is not None:
            first_growth = epochs[0]["rss_end_bytes"] - baseline
        projected = projection.get("cache_bytes")
        ratio = (overhead / cache_bytes) if overhead is not None and cache_bytes else None
        out.append(
            _finding(
                "cache_size",
                "info",
                "The in-memory cache holds the decoded dataset",
                f"Modelled cache: {_mib(cache_bytes)} ({notes.get('cache', '')}). Measured overhead "
                f"(peak - baseline): {_mib(overhead)}"
                + (f" = {ratio:.2f} x the modelled cache" if ratio is not None else "")
                + (
                    f"; RSS after epoch 1 was {_mib(first_growth)} above baseline"
                    if first_growth is not None
                    else ""
                )
                + (
                    f". For all {projection.get('full_dataset_images')} images: {_mib(projected)}."
                    if projection.get("scaled")
                    else "."
                ),
                "--cache file keeps it on disk; a smaller --image-size or --dtype uint8 (cast before cache) shrinks it",
                modelled_cache_bytes=cache_bytes,
                measured_overhead_bytes=overhead,
                epoch1_growth_bytes=first_growth,
                projected_cache_bytes=projected,
            )
        )
        available = available_ram_bytes if available_ram_bytes is not None else _available_ram_bytes()
        full_cache = projected if projected is not None else cache_bytes
        if available and full_cache > 0.5 * available:
            out.append(
                _finding(
                    "cache_exceeds_ram",
                    "critical",
                    "The full dataset's cache would not fit in memory",
                    f"Caching all {projection.get('full_dataset_images')} images needs {_mib(full_cache)}, "
                    f"more than half of the {_mib(available)} of RAM available now.",
                    "use --cache file, or cache after a cheaper representation (smaller --image-size, --dtype uint8)",
                    projected_cache_bytes=full_cache,
                    available_ram_bytes=available,
                )
            )

    prefetch_bytes = model.get("prefetch_buffers")
    if prefetch_bytes and prefetch_bytes >= max(BUFFER_FINDING_FLOOR_BYTES, 0.1 * (overhead or 0)):
        bound = "bound" in notes.get("prefetch_buffers", "")
        out.append(
            _finding(
                "prefetch_buffers",
                "info",
                "Prefetch buffers hold several batches",
                f"Prefetch is modelled at {_mib(prefetch_bytes)}"
                + (" (an upper estimate: AUTOTUNE sizes it at run time)" if bound else "")
                + f"; one batch is {_mib(model.get('batch'))}; measured overhead {_mib(overhead)}.",
                "--prefetch 1 or 2 caps the buffer; a smaller --batch-size shrinks each buffered batch",
                prefetch_bytes=prefetch_bytes,
                batch_bytes=model.get("batch"),
                is_bound=bound,
            )
        )

    shuffle_bytes = model.get("shuffle_buffer")
    if shuffle_bytes and shuffle_bytes >= max(BUFFER_FINDING_FLOOR_BYTES, 0.1 * (overhead or 0)):
        out.append(
            _finding(
                "shuffle_buffer",
                "warning",
                "The shuffle buffer holds decoded images",
                f"Shuffle buffer: {_mib(shuffle_bytes)} ({notes.get('shuffle_buffer', '')}); measured overhead {_mib(overhead)}.",
                "lower --shuffle-buffer, or shuffle file names before decoding (tf.data.Dataset.list_files(shuffle=True))",
                shuffle_buffer_bytes=shuffle_bytes,
                shuffle_buffer=config.get("shuffle_buffer"),
            )
        )

    if loader == "keras_pydataset" and (
        int(config.get("workers") or 1) > 1 or config.get("use_multiprocessing")
    ):
        children = summary.get("children_peak_rss_bytes")
        out.append(
            _finding(
                "workers_memory",
                "warning" if config.get("use_multiprocessing") else "info",
                "PyDataset workers multiply the batches in memory",
                f"{config.get('workers')} workers, max_queue_size {config.get('max_queue_size')}"
                f"{', multiprocessing' if config.get('use_multiprocessing') else ''}: queue modelled at "
                f"{_mib(model.get('pydataset_queue'))}"
                + (f"; worker processes peaked at {_mib(children)} RSS together" if children else "")
                + f"; tree peak {_mib(summary.get('peak_tree_rss_bytes'))}.",
                "lower --max-queue-size or --workers; threads (no --use-multiprocessing) share one copy of the dataset",
                queue_bytes=model.get("pydataset_queue"),
                children_peak_rss_bytes=children,
                peak_tree_rss_bytes=summary.get("peak_tree_rss_bytes"),
            )
        )

    fds_end = [e.get("fds_end") for e in epochs]
    if (
        len(fds_end) >= 3
        and all(v is not None for v in fds_end)
        and all(b > a for a, b in zip(fds_end, fds_end[1:], strict=False))
    ):
        out.append(
            _finding(
                "fd_growth",
                "warning",
                "Open file descriptors grow every epoch",
                f"FDs at each epoch end: {', '.join(str(v) for v in fds_end)} (start {summary['fds']['start']}). "
                "Files opened and never closed run into 'Too many open files'.",
                "close files the loader opens (--close-and-collect for image_data_generator; `with open(...)`/`Image.open` in a with block)",
                fds_at_epoch_end=fds_end,
            )
        )

    pauses = [(e["index"], e.get("gc_pause_seconds"), e.get("seconds")) for e in epochs]
    heavy = [(i, p, s) for i, p, s in pauses if p is not None and s and p > GC_PAUSE_FRACTION * s]
    if heavy:
        out.append(
            _finding(
                "gc_pressure",
                "warning",
                "Python garbage collection takes a noticeable share of epoch time",
                "GC pauses above 5% of the epoch: "
                + "; ".join(
                    f"epoch {i + 1}: {p:.3f} s of {s:.2f} s ({100 * p / s:.1f}%)" for i, p, s in heavy
                )
                + f". Collections per generation: {summary['gc']['collections']}.",
                "keep fewer short-lived Python objects per image (use a tf.data loader instead of a Python loop or generator)",
                epochs=[{"index": i, "pause_seconds": p, "seconds": s} for i, p, s in heavy],
                collections=summary["gc"]["collections"],
            )
        )

    dtype = config.get("dtype", "float32")
    working = LOADER_FACTS.get(loader, {}).get("working")
    if dtype != "float32" and working == "float32":
        cast_batch = model.get("batch_before_cast")
        total = summary.get("modelled_total_bytes")
        total_f32 = summary.get("modelled_total_float32_bytes")
        closer = None
        if overhead is not None and total is not None and total_f32 is not None:
            closer = "float32" if abs(overhead - total_f32) < abs(overhead - total) else dtype
        out.append(
            _finding(
                "dtype_no_saving",
                "warning",
                f"--dtype {dtype} is applied after a float32 decode",
                f"{loader} decodes and resizes to float32 and casts afterwards, so every batch exists in float32 "
                f"first ({_mib(cast_batch)} per batch) before the {dtype} copy ({_mib(model.get('batch'))}): the "
                "cast shrinks what is kept after it, not the decode. Modelled total: "
                f"{_mib(total)} at {dtype}, {_mib(total_f32)} had it stayed float32; measured overhead {_mib(overhead)}"
                + (f", closer to the {closer} model" if closer else "")
                + ". One trial has no float32 twin to compare with; the dtype_size scenario measures both.",
                "for a real saving, decode and resize in uint8 (pil_generator or keras_pydataset with --dtype uint8), "
                "and cast before anything that keeps data (cache, shuffle, prefetch)",
                batch_before_cast_bytes=cast_batch,
                batch_bytes=model.get("batch"),
                measured_overhead_bytes=overhead,
                modelled_total_bytes=total,
                modelled_total_float32_bytes=total_f32,
                closer_to=closer,
                evidence_kind="memory model (no paired run)",
            )
        )

    partial = group_has(log_groups, "partial_cache")
    epoch_images = [e.get("images") for e in summary.get("epochs") or []]
    if partial and config.get("cache") == "file" and _every_epoch_read_fully(summary):
        # TF 2.21 logs the warning for a file cache even after a complete read and keeps the cache
        # (tests/fixtures/logs/file_cache_full_read.*): not a partial read, so no warning here.
        out.append(
            _finding(
                "partial_cache",
                "info",
                "TensorFlow's partial-read warning on a file cache that was read to the end",
                f"TensorFlow logged the cache_dataset_ops.cc partial-read warning {partial['count']} time(s) "
                f"(per epoch: {partial['per_epoch']}), but every epoch delivered the same "
                f"{epoch_images[0]} images. TF 2.21 logs this for a file cache even after a complete "
                "first read, and keeps the cache file (measured: the map did not run again in later "
                "epochs).",
                "nothing to change; the warning is expected with --cache file",
                count=partial["count"],
                per_epoch=partial["per_epoch"],
                epoch_images=epoch_images,
            )
        )
    elif partial:
        out.append(
            _finding(
                "partial_cache",
                "warning",
                "The cache was discarded after a partial read",
                f"TensorFlow logged the cache_dataset_ops.cc partial-read warning {partial['count']} time(s) "
                f"(per epoch: {partial['per_epoch']}): the iterator stopped before the end of a .cache() dataset, "
                "so the cache never completes and every epoch decodes again.",
                "take(k) before cache() (set --steps so the loader limits before caching), or iterate the whole dataset",
                count=partial["count"],
                per_epoch=partial["per_epoch"],
            )
        )

    if config.get("mode") == "fit":
        fit_rate = summary.get("steady_images_per_second")
        if iterate_images_per_second and fit_rate:
            ratio = fit_rate / iterate_images_per_second
            if ratio >= 0.8:
                out.append(
                    _finding(
                        "input_bound",
                        "warning",
                        "Training waits for the input pipeline",
                        f"fit ran at {fit_rate:,.1f} images/s; the same pipeline alone (iterate mode) delivers "
                        f"{iterate_images_per_second:,.1f} images/s: training reaches {100 * ratio:.0f}% of the "
                        "input pipeline's own speed, so the input, not the model, sets the pace.",
                        "raise --num-parallel-calls or --prefetch, --cache memory if it fits, or a smaller --image-size",
                        fit_images_per_second=fit_rate,
                        iterate_images_per_second=iterate_images_per_second,
                        ratio=ratio,
                    )
                )
    return out


# -- entry point -----------------------------------------------------------------------------------


def analyze(
    run: dict[str, Any],
    samples: Any,
    events: Any,
    logs: Any,
    scan: dict[str, Any] | None,
    *,
    available_ram_bytes: int | None = None,
    cpu_count: int | None = None,
    iterate_images_per_second: float | None = None,
) -> dict[str, Any]:
    """Summary, findings and log groups of one run. Never raises on partial data."""
    config = _config(run)
    if scan is not None and hasattr(scan, "to_dict"):
        scan = scan.to_dict()
    scan = scan or run.get("scan") or None
    summary = summarise(run, samples, events)

    rss_ends = [e.get("rss_end_bytes") for e in summary["epochs"]]
    leak = leak_verdict(rss_ends, summary["baseline_rss_bytes"], _last_epoch_jitter(samples, events))
    summary["leak"] = leak
    summary["leak_bytes_per_epoch"] = leak["leak_bytes_per_epoch"]

    host = run.get("host") or {}
    model, notes = memory_model(config, scan, cpu_count or host.get("cpu_count"))
    summary["memory_model"] = model
    summary["memory_model_notes"] = notes
    summary["modelled_total_bytes"] = _model_total(model)
    if config.get("dtype", "float32") != "float32":
        float32_model, _ = memory_model(
            {**config, "dtype": "float32"}, scan, cpu_count or host.get("cpu_count")
        )
        summary["modelled_total_float32_bytes"] = _model_total(float32_model)
    summary["projection"] = project(config, scan, model, summary["measured_overhead_bytes"])
    summary["children_peak_rss_bytes"] = _children_peak(samples)

    epoch_starts = [e["t"] for e in _events_of(events, "epoch_start") if e.get("t") is not None]
    log_groups = group_logs(logs, epoch_starts)

    if iterate_images_per_second is None:
        iterate_images_per_second = _num((config.get("extra") or {}).get("iterate_images_per_second"))
    found = findings(
        config,
        summary,
        log_groups,
        available_ram_bytes=available_ram_bytes,
        iterate_images_per_second=iterate_images_per_second,
    )
    return {"summary": summary, "findings": found, "log_groups": log_groups}


def _model_total(model: dict[str, int]) -> int:
    # decoded_element is one image inside the batch, not memory of its own.
    return sum(v for k, v in model.items() if k != "decoded_element")


def _children_peak(samples: Any) -> int | None:
    """Largest summed RSS of the worker's child processes (PyDataset workers) in any sample."""
    if samples is None or len(samples) == 0 or "processes" not in samples:
        return None
    if "main_rss_bytes" in samples and "rss_bytes" in samples:
        diffs = [
            (_num(t) or 0) - (_num(m) or 0)
            for t, m in zip(samples["rss_bytes"].tolist(), samples["main_rss_bytes"].tolist(), strict=False)
        ]
        best = max(diffs) if diffs else 0
        return int(best) if best > 0 else None
    return None
