"""TrialConfig: everything that defines one trial, validated, with a JSON round trip.

Option values are plain JSON types so a config stored in SQLite or written by the CLI reads back
equal. ``prefetch`` and ``num_parallel_calls`` are ``"none"``, ``"auto"`` or a positive integer.
Whether an option applies to the chosen loader is checked by ``validate`` against the loader's
``options`` set: an option left at its default is never an error, one changed on a loader that
ignores it is refused, naming the option and the loader.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from diagnostics.errors import ConfigError

__all__ = [
    "COMMON_OPTIONS",
    "INT_RANGES",
    "OPTION_LABELS",
    "TrialConfig",
    "cli_name",
    "dashboard_text",
    "int_range_problem",
    "option_label",
    "parse_size",
]

MODES = ("iterate", "fit")
MODELS = ("tiny_cnn", "mobilenet_v2")
CACHES = ("none", "memory", "file")
DTYPES = ("float32", "float16", "uint8")
AUGMENTATIONS = ("none", "light", "heavy")
COLOR_MODES = ("rgb", "grayscale")
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area")
# Keras' ALLOWLIST_FORMATS: a file with another extension is silently skipped by
# image_dataset_from_directory, so counting it would make our numbers disagree with the loader's.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

# Options every trial has, whatever the loader; the rest must be listed in a loader's `options`.
COMMON_OPTIONS = frozenset(
    {
        "dataset",
        "loader",
        "mode",
        "model",
        "epochs",
        "steps",
        "batch_size",
        "image_size",
        "color_mode",
        "memory_budget_bytes",
        "timeout_seconds",
        "sample_hz",
    }
)

# CLI spelling of each field, used in messages so they name the option the user typed.
CLI_NAMES = {
    "image_size": "--image-size",
    "batch_size": "--batch-size",
    "num_parallel_calls": "--num-parallel-calls",
    "shuffle_buffer": "--shuffle-buffer",
    "keep_decoded": "--keep-decoded",
    "validation_split": "--validation-split",
    "close_and_collect": "--close-and-collect",
    "use_multiprocessing": "--use-multiprocessing",
    "max_queue_size": "--max-queue-size",
    "via_tf_data": "--via-tf-data",
    "memory_budget_bytes": "--memory-budget",
    "timeout_seconds": "--timeout",
    "sample_hz": "--sample-hz",
    "color_mode": "--color-mode",
}


def cli_name(field_name: str) -> str:
    return CLI_NAMES.get(field_name, "--" + field_name.replace("_", "-"))


# The dashboard's name of each option: the label its form field carries (form.py labels the
# widgets from here). Texts are written once, naming options by flag as the CLI and JSON keep them;
# ``dashboard_text`` gives the dashboard's wording.
OPTION_LABELS = {
    "loader": "Loader",
    "mode": "Mode",
    "model": "Model (fit)",
    "epochs": "Epochs",
    "steps": "Steps per epoch",
    "batch_size": "Batch size",
    "image_size": "Image size (px)",
    "color_mode": "Color mode",
    "interpolation": "Interpolation",
    "shuffle": "Shuffle",
    "shuffle_buffer": "Shuffle buffer",
    "seed": "Seed",
    "cache": "Cache",
    "prefetch": "Prefetch",
    "num_parallel_calls": "Parallel calls",
    "dtype": "Dtype",
    "augmentation": "Augmentation",
    "keep_decoded": "Keep decoded tensors",
    "rescale": "Rescale",
    "validation_split": "Validation split",
    "close_and_collect": "Close and collect",
    "workers": "Workers",
    "use_multiprocessing": "Use multiprocessing",
    "max_queue_size": "Max queue size",
    "via_tf_data": "Via tf.data",
    "memory_budget_bytes": "Memory budget (MiB)",
    "timeout_seconds": "Timeout (s)",
    "sample_hz": "Sample rate (Hz)",
}


def option_label(name: str) -> str:
    """The dashboard's label of option ``name`` (a TrialConfig field): 'Memory budget (MiB)'."""
    return OPTION_LABELS[name]


_FLAG_OPTIONS = {cli_name(name): name for name in OPTION_LABELS}
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)(?: (\w+))?")


# The named values of each option (a number is a value of any option): "--cache memory" reads
# "Cache = memory" on the dashboard, "--steps so" stays "Steps per epoch so".
_NAMED_VALUES = {
    "mode": MODES,
    "model": MODELS,
    "cache": CACHES,
    "dtype": DTYPES,
    "augmentation": AUGMENTATIONS,
    "color_mode": COLOR_MODES,
    "interpolation": INTERPOLATIONS,
    "prefetch": ("none", "auto"),
    "num_parallel_calls": ("none", "auto"),
}


def dashboard_text(text: str) -> str:
    """``text`` with every option flag as the dashboard's form names it, the value after ``=``.

    Example:
        >>> dashboard_text("use --cache file, or lower --shuffle-buffer; raise --memory-budget")
        'use Cache = file, or lower Shuffle buffer; raise Memory budget (MiB)'
    """

    def label(match: re.Match[str]) -> str:
        flag, value = match.groups()
        name = _FLAG_OPTIONS.get(flag)
        if name is None:
            return match.group(0)  # not an option (--json, --grid): the CLI's own words
        if value is not None and (value.isdigit() or value in _NAMED_VALUES.get(name, ())):
            return f"{option_label(name)} = {value}"
        return option_label(name) + (f" {value}" if value is not None else "")

    return _FLAG.sub(label, str(text))


# Ranges of the integer options ---------------------------------------------------------------
# The one table: ``loaders.validate`` (CLI, library, sweeps) refuses a value outside it with exit 2
# naming the range, and the dashboard's forms (``form.NUMBER_FIELDS``, ``form.option_problems``)
# check what was typed against it. Without a high bound a value like 10**20 passes Python and fails
# inside TensorFlow (int64) or SQLite; the highs are far above any useful trial.
INT_RANGES: dict[str, tuple[int, int]] = {
    "epochs": (1, 100_000),
    "steps": (1, 100_000),  # batches per epoch
    "batch_size": (1, 65_536),
    "image_size": (8, 4096),  # each side, in pixels
    "shuffle_buffer": (1, 10_000_000),  # elements
    "seed": (0, 2**31 - 1),
    "prefetch": (1, 1024),  # batches (besides none and auto)
    "num_parallel_calls": (1, 1024),  # besides none and auto
    "workers": (1, 256),
    "max_queue_size": (1, 10_000),
    "memory_budget_bytes": (1, 1 << 40),  # 1 TiB: the bytes must fit SQLite's 64-bit integer
}


def int_range_problem(name: str, value: object) -> str | None:
    """Why ``value`` is not an allowed ``name`` (an INT_RANGES key), naming the option, else None."""
    low, high = INT_RANGES[name]
    if not isinstance(value, bool) and isinstance(value, int) and low <= value <= high:
        return None
    kind = "a positive integer" if low == 1 else f"an integer from {low}"
    return f"{cli_name(name)} must be {kind} up to {high}, not {value!r}"


@dataclass(frozen=True)
class TrialConfig:
    """One trial: dataset, loader and its options, mode and limits.

    Example:
        >>> TrialConfig(dataset="sample_data", loader="keras_directory", cache="memory")
    """

    dataset: str
    loader: str = "keras_directory"
    mode: str = "iterate"
    model: str = "tiny_cnn"
    epochs: int = 3
    steps: int | None = None  # steps (batches) per epoch; None = the whole dataset
    batch_size: int = 32
    image_size: tuple[int, int] = (128, 128)
    color_mode: str = "rgb"
    interpolation: str = "bilinear"
    shuffle: bool = False
    shuffle_buffer: int | None = None  # None = the loader's own default
    seed: int = 1337
    cache: str = "none"
    prefetch: str | int = "none"
    num_parallel_calls: str | int = "none"
    dtype: str = "float32"
    augmentation: str = "none"
    # loader-specific
    keep_decoded: bool = False  # eager_loop
    rescale: float | None = None  # image_data_generator
    validation_split: float | None = None  # image_data_generator
    close_and_collect: bool = False  # image_data_generator
    workers: int = 1  # keras_pydataset
    use_multiprocessing: bool = False  # keras_pydataset
    max_queue_size: int = 10  # keras_pydataset
    via_tf_data: bool = False  # pil_generator
    # limits
    memory_budget_bytes: int | None = None  # None = 80% of available RAM at start
    timeout_seconds: float | None = None
    sample_hz: float = 50.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # JSON gives lists; keep the dataclass hashable and equal after a round trip.
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        for name in ("prefetch", "num_parallel_calls"):
            object.__setattr__(self, name, _normalise_knob(name, getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["image_size"] = list(self.image_size)
        if not data["extra"]:
            del data["extra"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TrialConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> TrialConfig:
        return dataclasses.replace(self, **changes)

    def changed_options(self) -> dict[str, Any]:
        """Options whose value differs from the default (dataset and loader excluded)."""
        out = {}
        for f in fields(self):
            if f.name in ("dataset", "loader", "extra"):
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if f.name == "image_size":
                default = tuple(default)
            if getattr(self, f.name) != default:
                out[f.name] = getattr(self, f.name)
        return out


def _normalise_knob(name: str, value: str | int) -> str | int:
    if isinstance(value, bool):
        raise ConfigError(f"{cli_name(name)} must be none, auto or a positive integer, not {value!r}")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().lower()
        if text in ("none", "auto"):
            return text
        if not text.isdigit():
            raise ConfigError(f"{cli_name(name)} must be none, auto or a positive integer, not {value!r}")
        number = int(text)
    high = INT_RANGES[name][1]
    if not 1 <= number <= high:
        raise ConfigError(
            f"{cli_name(name)} must be none, auto or a positive integer up to {high}, not {value!r}"
        )
    return number


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|k|m|g)?\s*$", re.IGNORECASE)
_UNITS = {
    None: 1,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
}


def parse_size(text: str) -> int:
    """'700MiB' -> 734003200. Accepts B, KiB/MiB/GiB (and K/M/G), KB/MB/GB."""
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(f"--memory-budget must be a size like 700MiB or 2GiB, not {text!r}")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower() if unit else None])
