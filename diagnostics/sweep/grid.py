"""A sweep's grid: ``--grid KEY=V1,V2`` parsed, its values given the fields' types, and every
combination applied to a base config and validated (the invalid ones reported, never dropped).
"""

from __future__ import annotations

import itertools
from dataclasses import fields
from typing import Any

from diagnostics.config import TrialConfig, cli_name
from diagnostics.errors import ConfigError
from diagnostics.loaders import validate

__all__ = ["DEFAULT_GRID", "expand"]

# `python -m diagnostics sweep DIR` without --grid: 2 x 2 x 2 = 8 trials on keras_directory.
DEFAULT_GRID: dict[str, list[Any]] = {
    "batch_size": [32, 64],
    "cache": ["none", "memory"],
    "prefetch": ["none", "auto"],
}

_FIELDS = {f.name: f for f in fields(TrialConfig)}
_NOT_SWEEPABLE = {"dataset", "extra"}


def _field_name(option: str) -> str:
    name = option.strip().lstrip("-").replace("-", "_")
    for field_name in _FIELDS:  # the CLI spelling of a field (--memory-budget) maps back to it
        if cli_name(field_name) == "--" + option.strip().lstrip("-"):
            return field_name
    return name


def _coerce(name: str, value: Any) -> Any:
    """Grid values typed on a command line arrive as strings; give them the field's type."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    default = _FIELDS[name].default
    if name == "image_size":
        parts = text.lower().replace("x", " ").replace(",", " ").split()
        if len(parts) == 1:
            parts = parts * 2
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise ConfigError(f"--grid image_size value {value!r} is not a size like 128 or 128x96") from None
    if isinstance(default, bool):
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"--grid {name} value {value!r} is not true or false")
    if text.lower() == "none" and name not in ("cache", "prefetch", "num_parallel_calls"):
        return None
    if isinstance(default, int) or name in ("steps", "shuffle_buffer", "memory_budget_bytes"):
        if text.isdigit():
            return int(text)
    if isinstance(default, float) or name in ("timeout_seconds", "rescale", "validation_split"):
        try:
            return float(text)
        except ValueError:
            pass
    return text


def expand(
    base_config: TrialConfig | dict[str, Any],
    grid: dict[str, list[Any]],
    invalid: list[dict[str, Any]] | None = None,
) -> list[TrialConfig]:
    """Every combination of the grid applied to the base config, each validated.

    Invalid combinations (e.g. ``--prefetch`` on a loader that has none) are never dropped
    silently: they are appended to ``invalid`` as ``{"options": {...}, "error": message}`` when the
    caller passes a list, and otherwise raise one ConfigError naming them.
    """
    base = base_config if isinstance(base_config, TrialConfig) else TrialConfig.from_dict(dict(base_config))
    names = []
    for option, values in grid.items():
        name = _field_name(option)
        if name not in _FIELDS or name in _NOT_SWEEPABLE:
            raise ConfigError(f"sweep option {option!r} is not a TrialConfig option that can be swept")
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"sweep option {option!r} needs a non-empty list of values")
        names.append((name, [_coerce(name, v) for v in values]))
    configs: list[TrialConfig] = []
    problems: list[dict[str, Any]] = []
    seen: set[TrialConfig] = set()
    for combo in itertools.product(*(values for _, values in names)):
        options = {name: value for (name, _), value in zip(names, combo, strict=True)}
        try:
            config = validate(base.replace(**options))
        except (ConfigError, TypeError, ValueError) as exc:
            problems.append({"options": _jsonable(options), "error": str(exc)})
            continue
        if config in seen:  # e.g. a grid value equal to what another axis already set
            continue
        seen.add(config)
        configs.append(config)
    if problems:
        if invalid is None:
            listed = "; ".join(f"{_describe(p['options'])}: {p['error']}" for p in problems[:3])
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise ConfigError(f"{len(problems)} sweep combination(s) are invalid: {listed}{more}")
        invalid.extend(problems)
    return configs


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


def _describe(options: dict[str, Any]) -> str:
    return " ".join(f"{cli_name(k)} {v}" for k, v in options.items())


def _options_of(config: dict[str, Any], grid: dict[str, list[Any]]) -> dict[str, Any]:
    """The swept options' values in a stored config, keyed as the grid spells them."""
    return {name: config.get(_field_name(name)) for name in grid}
