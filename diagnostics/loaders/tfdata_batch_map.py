"""tfdata_batch_map: file list -> batch -> map(tf.map_fn(decode)): decode after batching."""

from __future__ import annotations

from typing import Any

from diagnostics.loaders import _common as c


class TfdataBatchMapLoader:
    """Batch the file names first, then decode a whole batch in one map with ``tf.map_fn``.

    The vectorised-map advice from the tf.data performance guide, applied to decoding: fewer,
    bigger map calls, but each holds a whole batch of decoded images at once.

    Example:
        >>> LOADER.pipeline_code(TrialConfig(dataset="d", loader="tfdata_batch_map"), scan)
    """

    name = "tfdata_batch_map"
    description = (
        "tf.data file list -> batch -> map(tf.map_fn(decode)) -> [cache] -> [prefetch]: batch-then-decode"
    )
    options = c.TFDATA_OPTIONS

    def check(self, config: Any) -> None:
        c.refuse_buffer_without_shuffle(config, self.name)

    def pipeline_code(self, config: Any, scan: dict[str, Any]) -> str:
        parallel = c.parallel_kwarg(config)
        decode_batch = (
            "def load_batch(paths, labels):\n"
            "    images = tf.map_fn(\n"
            "        load_image,\n"
            "        paths,\n"
            f"        fn_output_signature=tf.TensorSpec(IMAGE_SIZE + (CHANNELS,), tf.{config.dtype}),\n"
            "    )\n"
            "    return images, labels\n"
        )
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
        if config.shuffle:
            # Shuffling names is cheap: the buffer holds strings, not decoded images.
            buffer = config.shuffle_buffer or "len(paths)"
            chain.append(f"dataset = dataset.shuffle({buffer}, seed=SEED)")
        chain.append("dataset = dataset.batch(BATCH_SIZE)")
        chain.append(f"dataset = dataset.map(load_batch{parallel})")
        chain.append(c.cache_call(config))
        if config.augmentation != "none":
            chain.append(
                f"dataset = dataset.map(lambda images, labels: (augment(images, training=True), labels){parallel})"
            )
        chain.append(c.prefetch_call(config))
        return c.join(
            c.file_listing(scan),
            c.tf_load_image(config, with_label=False),
            decode_batch,
            c.cache_setup(config),
            c.augmentation_model(config),
            "\n".join(line for line in chain if line),
            c.FINITE_TFDATA_DRIVER,
        )


LOADER = TfdataBatchMapLoader()
