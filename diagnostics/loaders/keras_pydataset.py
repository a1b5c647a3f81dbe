"""keras_pydataset: a ``keras.utils.PyDataset`` subclass loading images with ``keras.utils.load_img``."""

from __future__ import annotations

from typing import Any

from diagnostics.config import cli_name
from diagnostics.errors import ConfigError
from diagnostics.loaders import _common as c

# Keras 3 runs PyDataset workers only inside model.fit/evaluate/predict; its enqueuers are not
# public API, so iterate mode cannot honour these options.
FIT_ONLY = ("workers", "use_multiprocessing", "max_queue_size")


class KerasPyDatasetLoader:
    """The ``keras.utils.Sequence`` pattern (``PyDataset`` in Keras 3) with workers and a queue.

    With ``workers`` > 1 Keras loads batches in threads (or processes with
    ``use_multiprocessing``) ahead of the model, holding up to ``max_queue_size`` batches per worker:
    the memory multiplier reported in keras#11671.

    Example:
        >>> LOADER.pipeline_code(TrialConfig(dataset="d", loader="keras_pydataset", mode="fit", workers=4), scan)
    """

    name = "keras_pydataset"
    description = (
        "keras.utils.PyDataset with keras.utils.load_img (+ workers, multiprocessing, queue size in fit)"
    )
    options = frozenset(
        {"interpolation", "shuffle", "seed", "dtype", "workers", "use_multiprocessing", "max_queue_size"}
    )

    def check(self, config: Any) -> None:
        c.refuse_pil_area(config, self.name, "keras.utils.load_img")
        if config.mode != "fit":
            for name in FIT_ONLY:
                if name in config.changed_options():
                    raise ConfigError(
                        f"{cli_name(name)} applies to loader {self.name} only in --mode fit: Keras 3 "
                        "runs PyDataset workers inside model.fit, not when you iterate it yourself"
                    )

    def pipeline_code(self, config: Any, scan: dict[str, Any]) -> str:
        shuffle_setup = ""
        on_epoch_end = ""
        if config.shuffle:
            shuffle_setup = (
                "        self.rng = np.random.default_rng(SEED)\n        self.rng.shuffle(self.files)\n"
            )
            on_epoch_end = "\n    def on_epoch_end(self):\n        self.rng.shuffle(self.files)\n"
        klass = (
            "class ImageFolder(keras.utils.PyDataset):\n"
            '    """Batches of (images, labels) read with keras.utils.load_img."""\n'
            "\n"
            "    def __init__(self, files, batch_size, **kwargs):\n"
            "        super().__init__(**kwargs)  # workers, use_multiprocessing, max_queue_size\n"
            "        self.files = list(files)\n"
            "        self.batch_size = batch_size\n"
            f"{shuffle_setup}"
            "\n"
            "    def __len__(self):\n"
            "        return math.ceil(len(self.files) / self.batch_size)\n"
            "\n"
            "    def __getitem__(self, index):\n"
            "        batch = self.files[index * self.batch_size : (index + 1) * self.batch_size]\n"
            "        images = np.stack([\n"
            "            keras.utils.img_to_array(\n"
            "                keras.utils.load_img(\n"
            f'                    path, color_mode="{config.color_mode}", target_size=IMAGE_SIZE, '
            f'interpolation="{config.interpolation}"\n'
            "                ),\n"
            f'                dtype="{config.dtype}",\n'
            "            )\n"
            "            for path, _ in batch\n"
            "        ])\n"
            "        labels = np.array([label for _, label in batch])\n"
            "        return images, labels\n"
            f"{on_epoch_end}"
        )
        kwargs = []
        if config.mode == "fit":
            kwargs = [
                f"workers={config.workers}",
                f"use_multiprocessing={config.use_multiprocessing}",
                f"max_queue_size={config.max_queue_size}",
            ]
        create = "dataset = ImageFolder(files, BATCH_SIZE" + "".join(", " + k for k in kwargs) + ")"
        steps = "min(STEPS, len(dataset))" if config.steps else "len(dataset)"
        counts = f"steps_per_epoch = {steps}\nnum_images = min(num_images, steps_per_epoch * BATCH_SIZE)\n"
        loop = (
            "def epoch_batches():\n"
            '    """One epoch, indexing the PyDataset as Keras does without workers."""\n'
            "    for index in range(steps_per_epoch):\n"
            "        yield dataset[index]\n"
            "    dataset.on_epoch_end()\n"
        )
        return c.join(c.file_listing(scan), klass, create, counts, loop)


LOADER = KerasPyDatasetLoader()
