"""eager_loop: a Python loop of tf.io.read_file + decode_image per file, batched by hand."""

from __future__ import annotations

from typing import Any

from diagnostics.loaders import _common as c


class EagerLoopLoader:
    """Decode each file eagerly in a Python loop and stack batches, as first scripts often do.

    ``keep_decoded`` appends every decoded tensor to a list that outlives the epoch: the classic
    accidental growth (a debugging list, a "cache" dict) that looks like a TensorFlow leak.

    Example:
        >>> LOADER.pipeline_code(TrialConfig(dataset="d", loader="eager_loop", keep_decoded=True), scan)
    """

    name = "eager_loop"
    description = "Python loop of tf.io.read_file + decode_image per file; --keep-decoded keeps every tensor"
    options = frozenset({"interpolation", "shuffle", "seed", "dtype", "keep_decoded"})

    def pipeline_code(self, config: Any, scan: dict[str, Any]) -> str:
        keep = ""
        if config.keep_decoded:
            keep = "decoded = []  # --keep-decoded: every decoded image stays referenced here\n"
        loop = [
            "def epoch_batches():",
            '    """One epoch of (images, labels) batches, decoded eagerly one file at a time."""',
        ]
        if config.shuffle:
            loop += ["    order = list(files)", "    rng.shuffle(order)"]
        else:
            loop += ["    order = files"]
        loop += [
            "    images, labels, batches = [], [], 0",
            "    for path, label in order:",
            "        image = load_image(path)",
        ]
        if config.keep_decoded:
            loop.append("        decoded.append(image)")
        loop += [
            "        images.append(image)",
            "        labels.append(label)",
            "        if len(images) == BATCH_SIZE:",
            "            yield tf.stack(images), tf.constant(labels)",
            "            images, labels, batches = [], [], batches + 1",
        ]
        if config.steps:
            loop += ["            if batches == STEPS:  # --steps", "                return"]
        loop += [
            "    if images:",
            "        yield tf.stack(images), tf.constant(labels)",
        ]
        return c.join(
            c.file_listing(scan),
            "rng = np.random.default_rng(SEED)" if config.shuffle else None,
            c.tf_load_image(config, with_label=False),
            keep,
            "\n".join(loop),
            c.generator_fit_driver(config),
        )


LOADER = EagerLoopLoader()
