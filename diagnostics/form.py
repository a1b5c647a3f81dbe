"""Numbers typed in the dashboard's forms: taken as typed, then checked by name.

A Streamlit ``number_input`` with ``min_value``/``max_value`` keeps its last valid value when
someone types one outside the range: the field turns red, and Run would start with the old value
(epochs -3 ran 3 epochs). So no number field of the dashboard carries bounds (Run, Sweep, the
limits form, Dataset); ``NUMBER_FIELDS`` holds each field's label and range, ``problems`` checks
what was typed, and a bad value refuses the run or sweep with a message naming the field and range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnostics import ui

__all__ = [
    "NUMBER_FIELDS",
    "label",
    "number_problem",
    "option_problems",
    "path_problem",
    "problems",
    "unbounded",
    "widget_spec",
]

_EPOCHS = (1, 50)
_STEPS = (1, 100_000)
_PIXELS = (8, 4096)  # config.validate's image size limits
# Every number field of the dashboard: name -> (label, lowest, highest); None = no bound. The pages
# label their widgets with ``label(name)``, so the message names the field as the user sees it.
NUMBER_FIELDS: dict[str, tuple[str, int | None, int | None]] = {
    "epochs": ("Epochs", *_EPOCHS),
    "trial_epochs": ("Epochs per trial", *_EPOCHS),
    "steps": ("Steps per epoch", *_STEPS),
    "height": ("Image height (px)", *_PIXELS),
    "width": ("Image width (px)", *_PIXELS),
    "side": ("Image size (px, square)", *_PIXELS),
    # 1 TiB at most: the budget in bytes must fit SQLite's 64-bit integer.
    "budget": ("Memory budget (MiB)", 64, 1 << 20),
    "timeout": ("Timeout (s)", 1, None),
}


def label(name: str) -> str:
    """The label of number field ``name`` (a key of ``NUMBER_FIELDS``)."""
    return NUMBER_FIELDS[name][0]


def unbounded(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Widget arguments without min/max, so an out-of-range value reaches the check."""
    return {k: v for k, v in kwargs.items() if k not in ("min_value", "max_value")}


def widget_spec(name: str, kind: str) -> tuple[str, dict[str, Any]]:
    """``ui.option_widget_spec`` without the bounds (see ``unbounded``)."""
    widget, kwargs = ui.option_widget_spec(name, kind)
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
    """Problems of loader options typed as numbers (their lower bound from ``ui.option_widget_spec``)."""
    out = []
    for name, kind, label, _ in ui.OPTION_SPECS:
        if name not in options or kind not in ("int", "opt_int", "opt_float"):
            continue
        low = ui.option_widget_spec(name, kind)[1].get("min_value")
        problem = number_problem(label, options[name], low, None)
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
