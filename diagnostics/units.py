"""Human units for display, importable without pandas (``python -m diagnostics scan`` uses it
and must start fast); ``diagnostics.ui`` re-exports it."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["format_bytes", "is_missing", "number"]


def is_missing(value: Any) -> bool:
    """None or NaN (what a pandas frame holds where there is no value)."""
    if value is None:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def number(value: Any) -> float | None:
    """A float, or None for None, NaN and anything that is not a number."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(result) else result


def format_bytes(value_bytes: float | None, *, signed: bool = False) -> str:
    """1536 -> '1.5 KiB'; None -> '–'. ``signed`` adds '+' to positive values (deltas)."""
    if is_missing(value_bytes):
        return "–"
    value = float(value_bytes)
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    value = abs(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            text = f"{value:.0f}" if unit == "B" else f"{value:.1f}"
            return f"{sign}{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
