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

import importlib
from typing import Any

from diagnostics.config import (
    AUGMENTATIONS,
    CACHES,
    COLOR_MODES,
    COMMON_OPTIONS,
    DTYPES,
    INT_RANGES,
    INTERPOLATIONS,
    MODELS,
    MODES,
    TrialConfig,
    cli_name,
    int_range_problem,
)
from diagnostics.errors import ConfigError

__all__ = ["LOADER_NAMES", "all_loaders", "get_loader", "validate"]

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
    if name not in LOADER_NAMES:
        raise ConfigError(f"unknown loader {name!r}; choose one of: {', '.join(LOADER_NAMES)}")
    module = importlib.import_module(f"diagnostics.loaders.{name}")
    return module.LOADER


def all_loaders() -> list:
    return [get_loader(name) for name in LOADER_NAMES]


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{cli_name(name)} must be one of {', '.join(choices)}, not {value!r}")


def _in_range(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    problem = int_range_problem(name, value)
    if problem:
        raise ConfigError(problem)


def validate(config: TrialConfig) -> TrialConfig:
    """Check every value and that each changed option applies to the loader; return the config.

    Here, not in ``config``, because only the loaders know which options apply to them.
    """
    loader = get_loader(config.loader)  # raises ConfigError naming the unknown loader
    _choice("mode", config.mode, MODES)
    _choice("model", config.model, MODELS)
    _choice("cache", config.cache, CACHES)
    _choice("dtype", config.dtype, DTYPES)
    _choice("augmentation", config.augmentation, AUGMENTATIONS)
    _choice("color_mode", config.color_mode, COLOR_MODES)
    _choice("interpolation", config.interpolation, INTERPOLATIONS)
    _in_range("epochs", config.epochs)
    _in_range("steps", config.steps, allow_none=True)
    _in_range("batch_size", config.batch_size)
    _in_range("shuffle_buffer", config.shuffle_buffer, allow_none=True)
    _in_range("seed", config.seed)
    _in_range("workers", config.workers)
    _in_range("max_queue_size", config.max_queue_size)
    low, high = INT_RANGES["image_size"]
    if len(config.image_size) != 2 or not all(low <= v <= high for v in config.image_size):
        raise ConfigError(
            f"--image-size must be two sizes between {low} and {high}, not {config.image_size!r}"
        )
    if config.model == "mobilenet_v2" and (config.color_mode != "rgb" or min(config.image_size) < 32):
        raise ConfigError("--model mobilenet_v2 needs --color-mode rgb and an --image-size of at least 32 32")
    if config.validation_split is not None and not 0.0 < config.validation_split < 1.0:
        raise ConfigError(f"--validation-split must be between 0 and 1, not {config.validation_split!r}")
    if config.memory_budget_bytes is not None and int_range_problem(
        "memory_budget_bytes", config.memory_budget_bytes
    ):
        high = INT_RANGES["memory_budget_bytes"][1]
        raise ConfigError(
            f"--memory-budget must be a size from 1 byte up to {high >> 30}GiB (1 TiB), "
            f"not {config.memory_budget_bytes!r} bytes"
        )
    if config.timeout_seconds is not None and not config.timeout_seconds > 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, not {config.timeout_seconds!r}")
    if not 1 <= config.sample_hz <= 200:
        raise ConfigError(f"--sample-hz must be between 1 and 200, not {config.sample_hz!r}")
    allowed = COMMON_OPTIONS | loader.options
    for name in config.changed_options():
        if name not in allowed:
            raise ConfigError(f"{cli_name(name)} does not apply to loader {loader.name}")
    extra_check = getattr(loader, "check", None)
    if extra_check is not None:
        extra_check(config)  # loader-specific rules (e.g. an option only valid in fit mode)
    return config
