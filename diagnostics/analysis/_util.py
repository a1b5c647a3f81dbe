"""Small helpers shared by the analysis modules: number coercion, event and sample lookups."""

from __future__ import annotations

from typing import Any

from diagnostics.units import MiB, format_mib
from diagnostics.units import number as _num

__all__ = ["MiB", "_column", "_config", "_events_of", "_int", "_mib", "_num", "_sample_at"]

# -- small helpers ---------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _mib(value: float | int | None) -> str:
    """Bytes as findings quote them: '1,536.0 MiB', 'n/a' where unknown."""
    return format_mib(value, missing="n/a")


def _config(run: dict[str, Any]) -> dict[str, Any]:
    config = run.get("config") or {}
    if hasattr(config, "to_dict"):
        config = config.to_dict()
    return dict(config)


def _events_of(events: Any, kind: str) -> list[dict[str, Any]]:
    """Event payloads of one kind, each with its ``t``, in time order."""
    if events is None or len(events) == 0:
        return []
    out = []
    for row in events.itertuples(index=False):
        if getattr(row, "kind", None) != kind:
            continue
        data = getattr(row, "data", None)
        data = dict(data) if isinstance(data, dict) else {}
        data.setdefault("t", _num(getattr(row, "t", None)))
        out.append(data)
    out.sort(key=lambda d: d.get("t") or 0.0)
    return out


def _column(samples: Any, name: str) -> list[float]:
    if samples is None or len(samples) == 0 or name not in samples:
        return []
    return [v for v in (_num(x) for x in samples[name].tolist()) if v is not None]


def _sample_at(samples: Any, t: float | None, name: str) -> float | None:
    """The last sample of ``name`` at or before t (the first after, if none before)."""
    if t is None or samples is None or len(samples) == 0 or name not in samples:
        return None
    before = samples[samples["t"] <= t]
    frame = before if len(before) else samples
    values = [_num(v) for v in (frame[name].tolist()[-1:] if len(before) else frame[name].tolist()[:1])]
    return values[0] if values else None
