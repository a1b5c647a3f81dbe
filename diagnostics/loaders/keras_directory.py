"""keras_directory: ``keras.utils.image_dataset_from_directory``, the loader the Keras guides use."""

from __future__ import annotations

from typing import Any

from diagnostics.config import cli_name
from diagnostics.errors import ConfigError
from diagnostics.loaders import _common as c


class KerasDirectoryLoader:
    """image_dataset_from_directory (+ cast, cache, augmentation, prefetch), as in the Keras guide.

    Example:
        >>> LOADER.pipeline_code(TrialConfig(dataset="d", cache="memory"), scan)
    """

    name = "keras_directory"
    skips_bad_files = False  # reads the directory itself (see pipeline_code); runner refuses
    description = "keras.utils.image_dataset_from_directory (+ cast, cache, augmentation, prefetch)"
    options = frozenset(
        {
            "interpolation",
            "shuffle",
            "seed",
            "cache",
            "prefetch",
            "num_parallel_calls",
            "dtype",
            "augmentation",
        }
    )

    def check(self, config: Any) -> None:
        if (
            config.num_parallel_calls != "none"
            and config.dtype == "float32"
            and config.augmentation == "none"
        ):
            raise ConfigError(
                f"{cli_name('num_parallel_calls')} applies to loader {self.name} only through its "
                "cast or augmentation map: set --dtype or --augmentation too"
            )

    def pipeline_code(self, config: Any, scan: dict[str, Any]) -> str:
        skip_note = ""
        if c.indexed_bad_files(scan):
            skip_note = (
                "# image_dataset_from_directory cannot skip files: the unreadable ones in SKIP are\n"
                "# indexed too, and decoding them fails. Move them out of DATA_DIR first.\n"
            )
        create = (
            f"{skip_note}"
            "dataset = keras.utils.image_dataset_from_directory(\n"
            "    DATA_DIR,\n"
            '    labels="inferred",\n'
            '    label_mode="int",\n'
            "    class_names=CLASS_NAMES,\n"
            f'    color_mode="{config.color_mode}",\n'
            "    batch_size=BATCH_SIZE,\n"
            "    image_size=IMAGE_SIZE,\n"
            f"    shuffle={config.shuffle},\n"
            "    seed=SEED,\n"
            f'    interpolation="{config.interpolation}",\n'
            ")\n"
            "num_images = len(dataset.file_paths)"
        )
        parallel = c.parallel_kwarg(config)
        chain = []
        if config.steps:
            chain.append(
                "dataset = dataset.take(STEPS)  # --steps: take before cache, so the cache is read to the end"
            )
            chain.append("num_images = min(num_images, STEPS * BATCH_SIZE)")
        if config.dtype != "float32":
            chain.append(
                f"dataset = dataset.map(lambda images, labels: (tf.cast(images, tf.{config.dtype}), labels){parallel})"
            )
        chain.append(c.cache_call(config))
        if config.augmentation != "none":
            chain.append(
                f"dataset = dataset.map(lambda images, labels: (augment(images, training=True), labels){parallel})"
            )
        chain.append(c.prefetch_call(config))
        chain = [line for line in chain if line]
        return c.join(
            c.cache_setup(config),
            c.augmentation_model(config),
            create,
            "\n".join(chain),
            c.FINITE_TFDATA_DRIVER,
        )


LOADER = KerasDirectoryLoader()
