"""Render a trial as a standalone Python program: the code shown is the code measured.

``render_parts(config, scan)`` returns ``(setup_code, driver_code)``:

    setup_code   a docstring, imports, constants (DATA_DIR, IMAGE_SIZE, BATCH_SIZE, EPOCHS, STEPS,
                 NUM_CLASSES, CLASS_NAMES, SKIP when the scan found unreadable files), the
                 loader's ``pipeline_code`` (defines ``dataset``, ``steps_per_epoch``,
                 ``epoch_batches()``, ``num_images``) and, in fit mode, ``build_model()`` and
                 ``callbacks``.
    driver_code  the loop a user would write: iterate every batch of every epoch, or model.fit.

``render`` joins them. The worker executes ``setup_code`` as is and replaces only the driver with
an instrumented one, so the program a user copies builds exactly the measured pipeline. The
snippet uses public TensorFlow/Keras/PIL/NumPy APIs only and never imports ``diagnostics``.
"""

from __future__ import annotations

import re
from typing import Any

from diagnostics.loaders import get_loader
from diagnostics.models import model_code

__all__ = ["render", "render_parts"]

# Standard-library modules a pipeline may use, imported only when the code refers to them.
_STDLIB = ("atexit", "gc", "math", "os", "shutil", "tempfile", "time")


def _scan_dict(scan: Any) -> dict[str, Any]:
    return scan.to_dict() if hasattr(scan, "to_dict") else dict(scan)


def _constants(config: Any, scan: dict[str, Any]) -> str:
    lines = [
        f"DATA_DIR = {str(scan['root'])!r}",
        f"IMAGE_SIZE = {tuple(int(v) for v in config.image_size)!r}  # (height, width)",
        f"CHANNELS = {3 if config.color_mode == 'rgb' else 1}  # --color-mode {config.color_mode}",
        f"BATCH_SIZE = {int(config.batch_size)}",
        f"EPOCHS = {int(config.epochs)}",
        f"STEPS = {config.steps!r}  # batches per epoch; None = the whole dataset",
        f"SEED = {int(config.seed)}",
        f"CLASS_NAMES = {list(scan['classes'])!r}",
        "NUM_CLASSES = len(CLASS_NAMES)",
    ]
    bad = sorted(str(b["path"]) for b in scan.get("bad_files") or [])
    if bad:
        lines.append("# Unreadable files found by the scan, skipped (relative to DATA_DIR):")
        lines.append("SKIP = {")
        lines += [f"    {path!r}," for path in bad]
        lines.append("}")
    return "\n".join(lines) + "\n"


def _imports(body: str) -> str:
    stdlib = [f"import {name}" for name in _STDLIB if re.search(rf"\b{name}\.", body)]
    third = []
    if re.search(r"\bnp\.", body):
        third.append("import numpy as np")
    third.append("import tensorflow as tf")
    if re.search(r"\bImage\.", body):
        third.append("from PIL import Image")
    third.append("import keras")
    return "\n".join(stdlib) + ("\n\n" if stdlib else "") + "\n".join(third) + "\n"


def _driver(config: Any) -> str:
    if config.mode == "fit":
        return (
            'if __name__ == "__main__":\n'
            "    model = build_model()\n"
            "    model.fit(\n"
            "        dataset, epochs=EPOCHS, steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=2\n"
            "    )\n"
        )
    return (
        'if __name__ == "__main__":\n'
        "    for epoch in range(EPOCHS):\n"
        "        start = time.perf_counter()\n"
        "        delivered = 0\n"
        "        for images, labels in epoch_batches():\n"
        "            delivered += int(images.shape[0])\n"
        "        seconds = time.perf_counter() - start\n"
        '        print(f"epoch {epoch + 1}/{EPOCHS}: {delivered} images in {seconds:.2f} s")\n'
    )


def render_parts(config: Any, scan: Any) -> tuple[str, str]:
    """(setup_code, driver_code) for this trial; see the module docstring."""
    scan = _scan_dict(scan)
    loader = get_loader(config.loader)
    pipeline = loader.pipeline_code(config, scan).rstrip("\n") + "\n"
    blocks = [_constants(config, scan), pipeline]
    if config.mode == "fit":
        blocks.append(model_code(config))
        if not re.search(r"^callbacks = ", pipeline, re.MULTILINE):
            blocks.append("callbacks = []\n")
    driver = _driver(config)
    body = "\n\n\n".join(b.rstrip("\n") for b in blocks) + "\n" + driver
    docstring = (
        f'"""{config.loader} input pipeline, mode {config.mode}, as measured by Training Memory Diagnostics.\n'
        "\n"
        "Standalone: run it with the same Python environment (TensorFlow/Keras) as the trial.\n"
        '"""\n'
    )
    setup = docstring + "\n" + _imports(body) + "\n" + "\n\n\n".join(b.rstrip("\n") for b in blocks) + "\n"
    return setup, driver


def render(config: Any, scan: Any) -> str:
    """The whole standalone program: setup followed by the driver."""
    setup, driver = render_parts(config, scan)
    return setup + "\n\n" + driver
