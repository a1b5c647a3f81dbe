"""Numbers typed in the dashboard's forms: taken as typed, then checked by name.

A Streamlit ``number_input`` with ``min_value``/``max_value`` keeps its last valid value when
someone types one outside the range: the field turns red, and Run would start with the old value
(epochs -3 ran 3 epochs). So the forms' number fields carry no bounds; these functions check what
was typed, and a bad value refuses the run with a message naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnostics import ui

__all__ = [
    "RUN_NUMBERS",
    "number_problem",
    "option_problems",
    "path_problem",
    "problems",
    "unbounded",
    "widget_spec",
]

# Run page fields: (label, lowest, highest); None = no bound. Matches config.validate's limits.
RUN_NUMBERS: dict[str, tuple[str, int | None, int | None]] = {
    "epochs": ("Epochs", 1, 50),
    "steps": ("Steps per epoch", 1, 100_000),
    "height": ("Image height (px)", 8, 4096),
    "width": ("Image width (px)", 8, 4096),
}


def unbounded(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Widget arguments without min/max, so an out-of-range value reaches the check."""
    return {k: v for k, v in kwargs.items() if k not in ("min_value", "max_value")}


def widget_spec(name: str, kind: str) -> tuple[str, dict[str, Any]]:
    """``ui.option_widget_spec`` without the bounds (see ``unbounded``)."""
    widget, kwargs = ui.option_widget_spec(name, kind)
    return widget, unbounded(kwargs)


def number_problem(label: str, value: Any, low: float | None, high: float | None) -> str | None:
    """'Epochs: -3 is not allowed; enter 1 to 50.' or None when the value is fine (None = empty)."""
    if value is None or ((low is None or value >= low) and (high is None or value <= high)):
        return None
    if low is not None and high is not None:
        allowed = f"enter {low:g} to {high:g}"
    elif low is not None:
        allowed = f"enter {low:g} or more"
    else:
        allowed = f"enter {high:g} or less"
    return f"{label}: {value:g} is not allowed; {allowed}."


def problems(values: Mapping[str, Any]) -> list[str]:
    """Problems of the Run page's own number fields (keys of ``RUN_NUMBERS``)."""
    found = [
        number_problem(*RUN_NUMBERS[name][:1], value, *RUN_NUMBERS[name][1:])
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
