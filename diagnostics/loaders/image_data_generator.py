"""image_data_generator: the legacy ImageDataGenerator.flow_from_directory still found in tutorials."""

from __future__ import annotations

from typing import Any

from diagnostics.loaders import _common as c

# ImageDataGenerator's own augmentation arguments, by --augmentation level.
AUGMENT_ARGS = {
    "none": [],
    "light": ["horizontal_flip=True"],
    # rotation_range and zoom_range call scipy.ndimage (why scipy is a runtime requirement).
    "heavy": ["horizontal_flip=True", "rotation_range=36", "zoom_range=0.1"],
}


class ImageDataGeneratorLoader:
    """``tf.keras.preprocessing.image.ImageDataGenerator(...).flow_from_directory(...)``.

    ``close_and_collect`` applies the remedy usually suggested for its memory growth: drop the
    last batch and run ``gc.collect()`` at the end of every epoch (a callback in fit mode).

    Example:
        >>> LOADER.pipeline_code(TrialConfig(dataset="d", loader="image_data_generator", rescale=1/255), scan)
    """

    name = "image_data_generator"
    skips_bad_files = False  # reads the directory itself (see pipeline_code); runner refuses
    # DirectoryIterator.white_list_formats (Keras 3): no .gif, unlike image_dataset_from_directory.
    reads_extensions = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")
    reader = "ImageDataGenerator.flow_from_directory"
    description = (
        "legacy ImageDataGenerator.flow_from_directory (+ rescale, augmentation, validation split, gc)"
    )
    options = frozenset(
        {
            "interpolation",
            "shuffle",
            "seed",
            "dtype",
            "augmentation",
            "rescale",
            "validation_split",
            "close_and_collect",
        }
    )

    def check(self, config: Any) -> None:
        c.refuse_pil_area(config, self.name, "flow_from_directory (PIL resampling)")

    def pipeline_code(self, config: Any, scan: dict[str, Any]) -> str:
        args = []
        if config.rescale is not None:
            args.append(f"rescale={config.rescale!r}")
        args += AUGMENT_ARGS[config.augmentation]
        if config.validation_split is not None:
            args.append(f"validation_split={config.validation_split!r}")
        if config.dtype != "float32":
            args.append(f'dtype="{config.dtype}"')
        generator = "generator = tf.keras.preprocessing.image.ImageDataGenerator(" + ", ".join(args) + ")"
        flow = [
            "iterator = generator.flow_from_directory(",
            "    DATA_DIR,",
            "    target_size=IMAGE_SIZE,",
            f'    color_mode="{config.color_mode}",',
            "    classes=CLASS_NAMES,",
            '    class_mode="sparse",',
            "    batch_size=BATCH_SIZE,",
            f"    shuffle={config.shuffle},",
            "    seed=SEED,",
            f'    interpolation="{config.interpolation}",',
        ]
        if config.validation_split is not None:
            flow.append('    subset="training",')
        flow.append(")")
        skip_note = ""
        if c.indexed_bad_files(scan):
            skip_note = (
                "# flow_from_directory cannot skip files: the unreadable ones in SKIP are indexed too,\n"
                "# and loading them fails. Move them out of DATA_DIR first.\n"
            )
        steps = "min(STEPS, len(iterator))" if config.steps else "len(iterator)"
        counts = (
            "dataset = iterator  # a keras.utils.PyDataset: model.fit takes it as is\n"
            f"steps_per_epoch = {steps}\n"
            "num_images = min(iterator.samples, steps_per_epoch * BATCH_SIZE)\n"
        )
        loop = [
            "def epoch_batches():",
            '    """One epoch: the iterator loops forever, so take its length in batches."""',
            "    for _ in range(steps_per_epoch):",
            "        images, labels = next(iterator)",
            "        yield images, labels",
        ]
        callbacks = None
        if config.close_and_collect:
            loop += [
                "    del images, labels  # --close-and-collect: drop the last batch, then collect",
                "    gc.collect()",
            ]
            callbacks = (
                "# --close-and-collect in fit: collect garbage at the end of every epoch.\n"
                "callbacks = [keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: gc.collect())]"
            )
        return c.join(generator, skip_note + "\n".join(flow), counts, "\n".join(loop), callbacks)


LOADER = ImageDataGeneratorLoader()
