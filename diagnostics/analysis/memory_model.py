"""The memory model: expected bytes per component for a config and dataset (no TensorFlow)."""

from __future__ import annotations

import os
from typing import Any

DTYPE_BYTES = {"float32": 4, "float16": 2, "uint8": 1}
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
    # A stored run has the scan summary (dataset.scan_summary): its size_stats carry the mean.
    mean_pixels = ((scan or {}).get("size_stats") or {}).get("mean_pixels")
    if sizes:
        mean_pixels = sum(int(w) * int(h) for w, h in sizes) / len(sizes)
    if not mean_pixels:
        return fallback
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
