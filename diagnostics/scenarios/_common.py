"""What every scenario's verdict shares: the ``Verdict`` it returns, the trial time limit, and the
readers of a trial record (completed or not, its summary, throughput, overhead, findings) and the
phrases its sentences quote (MiB, images/s, ratios, the trials that were not measured)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from diagnostics import throughput
from diagnostics.units import MiB, format_mib

__all__ = [
    "CLEAR_SPEEDUP",
    "SAVING_FLOOR_BYTES",
    "SAVING_FRACTION",
    "TRIAL_TIMEOUT_SECONDS",
    "Verdict",
    "_clear_gap",
    "_cost",
    "_epoch_series",
    "_has_finding",
    "_mib",
    "_not_measured",
    "_ok",
    "_overhead",
    "_per_trial",
    "_rate",
    "_speed",
    "_summary",
    "_throughput",
    "_versus",
    "_x",
]

# A smaller dtype or image size "saved memory" only when the overhead (peak - baseline) drops by
# more than this floor and this share of the float32 overhead: smaller differences are RSS noise.
# A memory cache that costs less than the floor "hardly" grows RAM.
SAVING_FLOOR_BYTES = 8 * MiB
SAVING_FRACTION = 0.10
# Epoch times vary up to 2x between identical runs here (throughput.AUTORANGE_MARGIN): when even
# the slowest epoch of one trial beats the fastest of another by more than 3x, which is faster is
# not in doubt, though a timing too short to be stable still quotes no exact ratio.
CLEAR_SPEEDUP = 3.0
# Every trial gets a time limit so one stuck trial cannot hold a scenario (and the queue) forever.
TRIAL_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Verdict:
    text: str
    metric: dict[str, Any] = field(default_factory=dict)
    better: int | None = None  # index into the trials; None: no pipeline is "better"


# A verdict says "n/a" where a number is missing.
_mib = partial(format_mib, missing="n/a")


def _rate(value: float | None) -> str:
    # Not units.format_rate: verdicts quote whole images/s ("1,234 images/s"), its text is "img/s".
    return "n/a" if value is None else f"{value:,.0f} images/s"


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _ok(trial: dict[str, Any]) -> bool:
    return trial.get("status") == "completed" and bool(trial.get("summary"))


def _summary(trial: dict[str, Any]) -> dict[str, Any]:
    return trial.get("summary") or {}


def _throughput(trial: dict[str, Any]) -> float | None:
    return throughput.images_per_second(_summary(trial))


def _speed(trial: dict[str, Any]) -> dict[str, Any]:
    return throughput.of_summary(_summary(trial))


def _versus(trial: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``throughput.compare`` of two trials, its reason naming the trial whose timing fails."""
    result = dict(throughput.compare(_speed(trial), _speed(other)))
    for name, item in (("first", trial), ("second", other)):
        result["reason"] = result["reason"].replace(f"the {name} timing", f"the timing of '{item['label']}'")
    return result


def _clear_gap(fast: dict[str, Any], slow: dict[str, Any]) -> float | None:
    """``fast``'s slowest timed epoch over ``slow``'s fastest, when that is above ``CLEAR_SPEEDUP``.

    For timings too short to compare (``_versus`` not measurable): the rates are still measured,
    and a gap this wide between their extremes is no timing noise. None otherwise.
    """
    low, high = _speed(fast).get("min"), _speed(slow).get("max")
    if low is None or not high or low / high < CLEAR_SPEEDUP:
        return None
    return low / high


def _cost(value: float | None, against: str) -> str:
    """A verdict's memory cost: '12.0 MiB of peak over AGAINST', or no measurable cost when the
    difference is within the RSS noise (``SAVING_FLOOR_BYTES``): never a negative cost."""
    if value is None:
        return f"n/a of peak over {against}"
    if abs(value) < SAVING_FLOOR_BYTES:
        return (
            f"no measurable peak memory over {against} ({_mib(value, signed=True)}, within the "
            f"{_mib(SAVING_FLOOR_BYTES)} RSS noise)"
        )
    return f"{_mib(value)} of peak over {against}"


def _overhead(trial: dict[str, Any]) -> float | None:
    summary = _summary(trial)
    if summary.get("measured_overhead_bytes") is not None:
        return summary["measured_overhead_bytes"]
    peak, baseline = summary.get("peak_rss_bytes"), summary.get("baseline_rss_bytes")
    return peak - baseline if peak is not None and baseline is not None else None


def _epoch_series(trial: dict[str, Any], key: str) -> list[Any]:
    return [epoch.get(key) for epoch in _summary(trial).get("epochs") or []]


def _has_finding(trial: dict[str, Any], finding_id: str) -> dict[str, Any] | None:
    return next((f for f in trial.get("findings") or [] if f.get("id") == finding_id), None)


def _not_measured(trials: list[dict[str, Any]]) -> str:
    """A sentence naming the trials that did not complete (their numbers are missing)."""
    bad = [t for t in trials if not _ok(t)]
    if not bad:
        return ""
    parts = []
    for trial in bad:
        reason = f": {trial['error']}" if trial.get("error") else ""
        parts.append(f"'{trial['label']}' ended {trial.get('status') or 'without a result'}{reason}")
    return " Not measured: " + "; ".join(parts) + "."


def _per_trial(trials: list[dict[str, Any]], **getters: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    return {t["label"]: {name: get(t) for name, get in getters.items()} for t in trials}
