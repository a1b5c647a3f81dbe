"""The dashboard's forms: which widget shows each trial option, the limits and sweep-grid inputs,
and the numbers typed in them, taken as typed and then checked by name.

A Streamlit ``number_input`` with ``min_value``/``max_value`` keeps its last valid value when
someone types one outside the range: the field turns red, and Run would start with the old value
(epochs -3 ran 3 epochs). So no number field of the dashboard carries bounds (Run, Sweep, the
limits form, Dataset); ``NUMBER_FIELDS`` holds each field's label and range, ``problems`` checks
what was typed, and a bad value refuses the run or sweep with a message naming the field and range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from diagnostics.config import (
    COLOR_MODES,
    INT_RANGES,
    INTERPOLATIONS,
    MODELS,
    MODES,
    TrialConfig,
    option_label,
)
from diagnostics.units import MiB

__all__ = [
    "KNOB_CHOICES",
    "LIMIT_INPUTS",
    "NUMBER_FIELDS",
    "OPTION_CHOICES",
    "OPTION_DEFAULTS",
    "OPTION_SPECS",
    "SWEEP_CHOICES",
    "applicable_specs",
    "changed_options",
    "grid_values",
    "in_rows",
    "knob_value",
    "label",
    "limit_overrides",
    "number_problem",
    "option_problems",
    "option_value",
    "option_widget_spec",
    "path_problem",
    "problems",
    "sweep_plan",
    "unbounded",
    "widget_spec",
]

# Trial options as the forms show them -------------------------------------------------------
# (field, kind, label, help). Kinds: select (choices), knob (none/auto/N), int, opt_int (empty =
# None), opt_float, bool. The Run and Sweep forms render only COMMON_OPTIONS | loader.options.
KNOB_CHOICES = ("none", "auto", "1", "2", "4", "8", "16")


def _spec(name: str, kind: str, help_text: str) -> tuple[str, str, str, str]:
    return (name, kind, option_label(name), help_text)  # the label: config's one table


OPTION_SPECS: tuple[tuple[str, str, str, str], ...] = (
    _spec("batch_size", "int", "Images per batch."),
    _spec("color_mode", "select", "rgb: 3 channels; grayscale: 1 channel (a third of the bytes)."),
    _spec("interpolation", "select", "Resize method used when decoding to the image size."),
    _spec(
        "cache",
        "select",
        "memory: keep every decoded image in RAM after epoch 1; file: cache on disk.",
    ),
    _spec("prefetch", "knob", "Batches prepared ahead of the consumer; auto lets tf.data tune it."),
    _spec(
        "num_parallel_calls",
        "knob",
        "Images decoded at once by map(); auto lets tf.data tune it.",
    ),
    _spec("dtype", "select", "Element type of the images handed to the model."),
    _spec("augmentation", "select", "Random flips/rotations applied per image."),
    _spec("shuffle", "bool", "Shuffle the file order every epoch."),
    _spec(
        "shuffle_buffer",
        "opt_int",
        "Elements held by shuffle(); empty = the loader's default.",
    ),
    _spec("seed", "int", "Random seed for shuffling and augmentation."),
    _spec(
        "keep_decoded",
        "bool",
        "Append every decoded image to a Python list (the classic accidental growth).",
    ),
    _spec(
        "rescale",
        "opt_float",
        "Multiply pixels by this factor (e.g. 0.00392 for 1/255); empty = none.",
    ),
    _spec("validation_split", "opt_float", "Fraction held out for validation; empty = none."),
    _spec(
        "close_and_collect",
        "bool",
        "Close the iterator and call gc.collect() after each epoch.",
    ),
    _spec("workers", "int", "PyDataset worker threads or processes."),
    _spec(
        "use_multiprocessing",
        "bool",
        "Workers are processes (each with its own memory).",
    ),
    _spec("max_queue_size", "int", "Batches queued by the PyDataset workers."),
    _spec("via_tf_data", "bool", "Wrap the generator in tf.data.Dataset.from_generator."),
)


# Options a sweep grid can vary, with the values offered by default.
SWEEP_CHOICES: dict[str, tuple[Any, ...]] = {
    "loader": (),  # filled by the page from LOADER_NAMES
    "batch_size": (16, 32, 64, 128),
    "cache": ("none", "memory", "file"),
    "prefetch": ("none", "auto", 1, 2, 4),
    "num_parallel_calls": ("none", "auto", 2, 4),
    "dtype": ("float32", "float16", "uint8"),
    "image_size": ((64, 64), (128, 128), (224, 224)),
}


def knob_value(text: str) -> str | int:
    return int(text) if str(text).isdigit() else str(text)


def applicable_specs(loader_options: Iterable[str]) -> list[tuple[str, str, str, str]]:
    """The OPTION_SPECS rows a loader accepts (batch size and color mode are common to all)."""
    wanted = set(loader_options) | {"batch_size", "color_mode"}
    return [spec for spec in OPTION_SPECS if spec[0] in wanted]


OPTION_DEFAULTS = TrialConfig(dataset="")


OPTION_CHOICES: dict[str, tuple[str, ...]] = {
    "mode": MODES,
    "model": MODELS,
    "cache": ("none", "memory", "file"),
    "dtype": ("float32", "float16", "uint8"),
    "augmentation": ("none", "light", "heavy"),
    "color_mode": COLOR_MODES,
    "interpolation": INTERPOLATIONS,
}


def option_widget_spec(name: str, kind: str) -> tuple[str, dict[str, Any]]:
    """Which Streamlit widget shows this option and its arguments besides label, help and key.

    Returns (widget name: selectbox, checkbox or number_input, keyword arguments); the page
    calls the widget and hands its raw value to ``option_value``.
    """
    default = getattr(OPTION_DEFAULTS, name)
    if kind == "select":
        choices = list(OPTION_CHOICES[name])
        return "selectbox", {"options": choices, "index": choices.index(default)}
    if kind == "knob":
        choices = list(KNOB_CHOICES)
        return "selectbox", {"options": choices, "index": choices.index(str(default))}
    if kind == "bool":
        return "checkbox", {"value": default}
    if kind in ("int", "opt_int"):
        low, high = INT_RANGES[name]  # the range loaders.validate checks
        return "number_input", {"min_value": low, "max_value": high, "value": default, "step": 1}
    if kind == "opt_float":
        return "number_input", {"min_value": 0.0, "value": default, "format": "%.5f"}
    raise ValueError(f"unknown option kind {kind!r}")


def option_value(kind: str, raw: Any) -> Any:
    """The TrialConfig value of a widget's raw value (number inputs return floats, knobs text)."""
    if kind == "knob":
        return knob_value(raw)
    if kind == "int":
        return int(raw)
    if kind == "opt_int":
        return None if raw is None else int(raw)
    return raw


def changed_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """Only the options that differ from TrialConfig's defaults (what the run actually changes)."""
    return {k: v for k, v in values.items() if v != getattr(OPTION_DEFAULTS, k)}


def in_rows(items: Sequence[Any], per_row: int) -> list[Sequence[Any]]:
    """Split items into rows of ``per_row`` (the last row may be shorter)."""
    return [items[start : start + per_row] for start in range(0, len(items), per_row)]


# The limits form's widgets; labels and allowed ranges are NUMBER_FIELDS' (no min/max here).
LIMIT_INPUTS: dict[str, dict[str, Any]] = {
    "budget": {
        "step": 256,
        "help": "The worker's whole process tree is killed when its RSS crosses this. "
        "Empty = 80% of available RAM.",
    },
    "timeout": {"step": 30, "help": "Empty = no time limit."},
}


def limit_overrides(budget_mib: float | None, timeout_s: float | None) -> dict[str, Any]:
    """TrialConfig fields for the limits form; empty inputs keep the defaults (80% of RAM, none)."""
    out: dict[str, Any] = {}
    if budget_mib:
        out["memory_budget_bytes"] = int(budget_mib) * MiB
    if timeout_s:
        out["timeout_seconds"] = float(timeout_s)
    return out


def sweep_plan(
    store: Any,
    grid: Mapping[str, list[Any]],
    *,
    dataset: str,
    loader: str,
    epochs: Any,
    steps: Any,
    side: Any,
    limits: Mapping[str, Any],
) -> tuple[TrialConfig, list[TrialConfig], list[dict[str, Any]], float]:
    """The Sweep form's values (already checked by ``form.problems``) as (base config, the grid's
    trials (none without a grid), the combinations a loader refuses, estimated seconds in a row)."""
    from diagnostics import sweep  # late: form is imported by every page, sweep only by this one

    base = TrialConfig(
        dataset=dataset,
        loader=loader,
        epochs=int(epochs),
        steps=int(steps) if steps else None,
        image_size=(int(side), int(side)),
        **limits,
    )
    invalid: list[dict[str, Any]] = []
    trials = sweep.expand(base, dict(grid), invalid=invalid) if grid else []
    return base, trials, invalid, sweep.estimate_seconds(trials, store) if trials else 0.0


def grid_values(picked: Iterable[Any]) -> list[Any]:
    """Multiselect picks as a sweep grid's values; image sizes become lists, as JSON keeps them."""
    return [list(v) if isinstance(v, tuple) else v for v in picked]


# Numbers typed in the forms: labels and ranges ---------------------------------------------
_EPOCHS = INT_RANGES["epochs"]  # the trial options' ranges are config's, as loaders.validate checks
_STEPS = INT_RANGES["steps"]
_PIXELS = INT_RANGES["image_size"]
# Every number field of the dashboard: name -> (label, lowest, highest); None = no bound. The pages
# label their widgets with ``label(name)``, so the message names the field as the user sees it.
NUMBER_FIELDS: dict[str, tuple[str, int | None, int | None]] = {
    "epochs": (option_label("epochs"), *_EPOCHS),
    "trial_epochs": ("Epochs per trial", *_EPOCHS),
    "steps": (option_label("steps"), *_STEPS),
    "height": ("Image height (px)", *_PIXELS),
    "width": ("Image width (px)", *_PIXELS),
    "side": ("Image size (px, square)", *_PIXELS),
    # 1 TiB at most: the budget in bytes must fit SQLite's 64-bit integer.
    "budget": (option_label("memory_budget_bytes"), 64, INT_RANGES["memory_budget_bytes"][1] // MiB),
    "timeout": (option_label("timeout_seconds"), 1, None),
}


def label(name: str) -> str:
    """The label of number field ``name`` (a key of ``NUMBER_FIELDS``)."""
    return NUMBER_FIELDS[name][0]


def unbounded(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Widget arguments without min/max, so an out-of-range value reaches the check."""
    return {k: v for k, v in kwargs.items() if k not in ("min_value", "max_value")}


def widget_spec(name: str, kind: str) -> tuple[str, dict[str, Any]]:
    """``option_widget_spec`` without the bounds (see ``unbounded``)."""
    widget, kwargs = option_widget_spec(name, kind)
    return widget, unbounded(kwargs)


def _number(value: float) -> str:
    """1048576, 0.5, -3: whole numbers in full (``:g`` would print 1.04858e+06)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def number_problem(label: str, value: Any, low: float | None, high: float | None) -> str | None:
    """'Epochs: -3 is not allowed; enter 1 to 50.' or None when the value is fine (None = empty)."""
    if value is None or ((low is None or value >= low) and (high is None or value <= high)):
        return None
    if low is not None and high is not None:
        allowed = f"enter {_number(low)} to {_number(high)}"
    elif low is not None:
        allowed = f"enter {_number(low)} or more"
    else:
        allowed = f"enter {_number(high)} or less"
    return f"{label}: {_number(value)} is not allowed; {allowed}."


def problems(values: Mapping[str, Any]) -> list[str]:
    """Problems of number fields typed in a form: ``{name in NUMBER_FIELDS: value}`` -> messages."""
    found = [
        number_problem(*NUMBER_FIELDS[name][:1], value, *NUMBER_FIELDS[name][1:])
        for name, value in values.items()
    ]
    return [p for p in found if p]


def option_problems(options: Mapping[str, Any]) -> list[str]:
    """Problems of loader options typed as numbers (their range from ``option_widget_spec``)."""
    out = []
    for name, kind, label, _ in OPTION_SPECS:
        if name not in options or kind not in ("int", "opt_int", "opt_float"):
            continue
        bounds = option_widget_spec(name, kind)[1]
        problem = number_problem(label, options[name], bounds.get("min_value"), bounds.get("max_value"))
        if problem:
            out.append(problem)
    return out


def path_problem(folder: str, allowed_roots: list | None = None) -> str | None:
    """Why the dataset path cannot be used (outside the roots, missing, not a folder), or None.

    Shown right under the path field; what the scan finds inside the folder is reported by the scan.
    """
    import os

    from diagnostics.dataset import resolve_dataset
    from diagnostics.errors import DatasetError

    try:
        real = resolve_dataset(folder, allowed_roots)
    except DatasetError as exc:
        return str(exc)
    if not os.path.exists(real):
        return f"Dataset folder {folder} does not exist."
    if not os.path.isdir(real):
        return f"Dataset folder {folder} is a file, not a folder of class sub-folders."
    return None
