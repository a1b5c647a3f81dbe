"""Human units for display: the one copy of every formatter (bytes, MiB, seconds, rates).

Importable without pandas (``python -m diagnostics scan`` uses it and must start fast).
Bytes and seconds inside; these turn them into text only at display.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MiB",
    "format_bytes",
    "format_mib",
    "format_rate",
    "format_seconds",
    "is_missing",
    "mib",
    "number",
]

MiB = 1024**2


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


def mib(value_bytes: float | None) -> float | None:
    """Bytes as a float number of MiB (for axes and tables); None stays None."""
    return None if is_missing(value_bytes) else float(value_bytes) / MiB


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


def format_mib(value_bytes: float | None, *, signed: bool = False, missing: str = "–") -> str:
    """Bytes in MiB, always that unit so figures in one sentence compare: 1.5 GiB -> '1,536.0 MiB'.

    ``signed`` adds '+' to positive values (deltas); ``missing`` is the text for None or NaN
    (findings and verdicts say 'n/a').
    """
    if is_missing(value_bytes):
        return missing
    return f"{float(value_bytes) / MiB:{'+' if signed else ''},.1f} MiB"


def format_seconds(value_seconds: float | None) -> str:
    """12.34 -> '12.3 s'; 75 -> '1 min 15 s'; 3720 -> '1 h 02 min'; None -> '–'."""
    if is_missing(value_seconds):
        return "–"
    value = float(value_seconds)
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_rate(images_per_second: float | None) -> str:
    """1234.5 -> '1,234 img/s'; 12.34 -> '12.3 img/s'; None -> '–'."""
    if is_missing(images_per_second):
        return "–"
    value = float(images_per_second)
    return f"{value:,.0f} img/s" if value >= 100 else f"{value:.1f} img/s"
