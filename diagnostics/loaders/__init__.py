"""Loader registry. One loader family per module; each builds the pipeline AND renders its code.

A loader is an object with:

    name         str, the CLI/UI name (e.g. "keras_directory")
    description  one line shown by ``python -m diagnostics loaders``
    options      frozenset of TrialConfig field names that apply to it, beyond COMMON_OPTIONS
    check(config)            optional: loader-specific validation, raises ConfigError
    pipeline_code(config, dataset) -> str
                 Python source that, run after the snippet header, defines ``dataset`` (what
                 ``model.fit`` gets), ``steps_per_epoch`` (int, or None for a finite tf.data
                 dataset), ``epoch_batches()`` (an iterable of (images, labels) for ONE epoch)
                 and ``num_images`` (images one epoch delivers); optionally ``callbacks`` (fit).

The worker executes exactly this source (see diagnostics/snippet.py), so the snippet a user copies
is the pipeline that was measured.
"""

from __future__ import annotations

from diagnostics.errors import ConfigError

__all__ = ["LOADER_NAMES", "all_loaders", "get_loader"]

LOADER_NAMES = (
    "keras_directory",
    "tfdata_map_batch",
    "tfdata_batch_map",
    "eager_loop",
    "image_data_generator",
    "keras_pydataset",
    "pil_generator",
)


def get_loader(name: str):
    import importlib

    if name not in LOADER_NAMES:
        raise ConfigError(f"unknown loader {name!r}; choose one of: {', '.join(LOADER_NAMES)}")
    module = importlib.import_module(f"diagnostics.loaders.{name}")
    return module.LOADER


def all_loaders() -> list:
    return [get_loader(name) for name in LOADER_NAMES]
