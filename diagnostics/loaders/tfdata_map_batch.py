"""tfdata_map_batch: file list -> map(read + decode + resize) -> [cache] -> [shuffle] -> batch."""

from __future__ import annotations

from typing import Any

from diagnostics.loaders import _common as c

# tf.data guides shuffle decoded images with a buffer of about this size; the buffer holds that
# many decoded images, which is exactly the memory this loader lets users see.
DEFAULT_SHUFFLE_BUFFER = 1000


class TfdataMapBatchLoader:
    """The tf.data guide's pipeline: decode per image in a parallel map, then batch.

    Example:
        >>> LOADER.pipeline_code(TrialConfig(dataset="d", num_parallel_calls="auto"), scan)
    """

    name = "tfdata_map_batch"
    description = (
        "tf.data file list -> map(read+decode+resize) -> [cache] -> [shuffle] -> batch -> [prefetch]"
    )
    options = c.TFDATA_OPTIONS

    def check(self, config: Any) -> None:
        c.refuse_buffer_without_shuffle(config, self.name)

    def pipeline_code(self, config: Any, scan: dict[str, Any]) -> str:
        parallel = c.parallel_kwarg(config)
        chain = [
            "paths = [path for path, _ in files]",
            "labels = [label for _, label in files]",
            "dataset = tf.data.Dataset.from_tensor_slices((paths, labels))",
        ]
        if config.steps:
            chain.append(
                "dataset = dataset.take(STEPS * BATCH_SIZE)  # --steps: take before cache, so the cache is read to the end"
            )
            chain.append("num_images = min(num_images, STEPS * BATCH_SIZE)")
        chain.append(f"dataset = dataset.map(load_image{parallel})")
        chain.append(c.cache_call(config))
        if config.shuffle:
            buffer = config.shuffle_buffer or DEFAULT_SHUFFLE_BUFFER
            chain.append(f"dataset = dataset.shuffle({buffer}, seed=SEED)")
        chain.append("dataset = dataset.batch(BATCH_SIZE)")
        if config.augmentation != "none":
            chain.append(
                f"dataset = dataset.map(lambda images, labels: (augment(images, training=True), labels){parallel})"
            )
        chain.append(c.prefetch_call(config))
        return c.join(
            c.file_listing(scan),
            c.tf_load_image(config),
            c.cache_setup(config),
            c.augmentation_model(config),
            "\n".join(line for line in chain if line),
            c.FINITE_TFDATA_DRIVER,
        )


LOADER = TfdataMapBatchLoader()
