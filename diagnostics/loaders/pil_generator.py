"""pil_generator: a plain Python generator with PIL resize and a NumPy dtype, optionally via tf.data."""

from __future__ import annotations

from typing import Any

from diagnostics.config import cli_name
from diagnostics.errors import ConfigError
from diagnostics.loaders import _common as c


class PilGeneratorLoader:
    """Open each file with PIL, resize, convert to a NumPy array, yield batches.

    ``via_tf_data`` wraps the per-image generator in ``tf.data.Dataset.from_generator`` and batches
    there, as many migration guides do; TensorFlow then changes malloc trimming for the process
    (its "Memory patch applied: M_TRIM_THRESHOLD" line), which shows in memory comparisons.

    Example:
        >>> LOADER.pipeline_code(TrialConfig(dataset="d", loader="pil_generator", via_tf_data=True), scan)
    """

    name = "pil_generator"
    description = (
        "plain Python generator with PIL resize and a NumPy dtype; --via-tf-data wraps it in from_generator"
    )
    options = frozenset({"interpolation", "shuffle", "seed", "dtype", "via_tf_data", "prefetch"})

    def check(self, config: Any) -> None:
        if config.prefetch != "none" and not config.via_tf_data:
            raise ConfigError(
                f"{cli_name('prefetch')} applies to loader {self.name} only with {cli_name('via_tf_data')}"
            )

    def pipeline_code(self, config: Any, scan: dict[str, Any]) -> str:
        pil_mode = "RGB" if config.color_mode == "rgb" else "L"
        load = (
            "def load_image(path):\n"
            "    with Image.open(path) as source:  # closes the file even if decoding fails\n"
            f'        image = source.convert("{pil_mode}").resize(\n'
            f"            (IMAGE_SIZE[1], IMAGE_SIZE[0]), {c.PIL_RESAMPLING[config.interpolation]}\n"
            "        )\n"
            f'    array = np.asarray(image, dtype="{config.dtype}")\n'
            + (
                "    return array[..., np.newaxis]  # grayscale: keep a channel axis\n"
                if pil_mode == "L"
                else "    return array\n"
            )
        )
        order = (
            ["    order = list(files)", "    rng.shuffle(order)"] if config.shuffle else ["    order = files"]
        )
        samples = "\n".join(
            [
                "def samples():",
                '    """(image, label) pairs for one epoch."""',
                *order,
                "    for path, label in order:",
                "        yield load_image(path), label",
            ]
        )
        if config.via_tf_data:
            chain = [
                "dataset = tf.data.Dataset.from_generator(",
                "    samples,",
                "    output_signature=(",
                f"        tf.TensorSpec(IMAGE_SIZE + (CHANNELS,), tf.{config.dtype}),",
                "        tf.TensorSpec((), tf.int32),",
                "    ),",
                ")",
            ]
            if config.steps:
                chain.append("dataset = dataset.take(STEPS * BATCH_SIZE)  # --steps")
            chain.append("dataset = dataset.batch(BATCH_SIZE)")
            prefetch = c.prefetch_call(config)
            if prefetch:
                chain.append(prefetch)
            hooks = c.steps_cap(config) + c.FINITE_TFDATA_DRIVER
            pipeline = "\n".join(chain)
        else:
            batches = [
                "def epoch_batches():",
                '    """One epoch of (images, labels) NumPy batches."""',
                "    images, labels, batches = [], [], 0",
                "    for image, label in samples():",
                "        images.append(image)",
                "        labels.append(label)",
                "        if len(images) == BATCH_SIZE:",
                "            yield np.stack(images), np.array(labels)",
                "            images, labels, batches = [], [], batches + 1",
            ]
            if config.steps:
                batches += ["            if batches == STEPS:  # --steps", "                return"]
            batches += ["    if images:", "        yield np.stack(images), np.array(labels)"]
            pipeline = "\n".join(batches)
            hooks = c.generator_fit_driver(config)
        return c.join(
            c.file_listing(scan),
            "rng = np.random.default_rng(SEED)" if config.shuffle else None,
            load,
            samples,
            pipeline,
            hooks,
        )


LOADER = PilGeneratorLoader()
