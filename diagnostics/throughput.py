"""The one throughput figure of a run, its spread, and whether it is long enough to trust.

Every view (Run page, Compare, History, CSV/JSON export, sweep rows, scenario verdicts, the HTML
report) reads a run's images/s from ``measure(summary["epochs"])``: the median of the per-epoch
rates over the epochs after the first, with the slowest and fastest of those epochs as its spread.
Epoch 1 is left out because it pays once for what a long training run pays once (caches filling,
graphs tracing, files first read).

A figure is ``stable`` only when the epochs it comes from lasted at least ``MIN_MEASURED_SECONDS``
together and read at least ``MIN_MEASURED_IMAGES``: a cached epoch of 2 ms says nothing about the
pipeline's speed (timer resolution, scheduling and one GC pause dominate it). An unstable figure is
still reported, with the reason and how many epochs would reach the minimum, but nothing is
recommended or declared faster on the strength of it.

The rates drawn over time come from a run's events here too: ``throughput_frame`` (images/s
between step events) and ``epoch_means`` (each epoch's images over its seconds), which the charts
plot.

Example:
    >>> t = measure([{"images": 500, "seconds": 2.0}, {"images": 500, "seconds": 1.0}])
    >>> t["images_per_second"], t["stable"]
    (500.0, True)
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from diagnostics.units import number as _number

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AUTORANGE_MAX_EPOCHS",
    "DEFINITION",
    "MIN_MEASURED_IMAGES",
    "MIN_MEASURED_SECONDS",
    "NEAR_FRACTION",
    "autorange_epochs",
    "compare",
    "epoch_means",
    "event_data",
    "images_per_second",
    "measure",
    "of_summary",
    "spread_note",
    "throughput_frame",
]

# Below a second, a run's timing is at the mercy of one scheduler hiccup or GC pause on a shared
# box; below a hundred images, of one slow file.
MIN_MEASURED_SECONDS = 1.0
MIN_MEASURED_IMAGES = 100
# Two medians closer than this (relative) are not told apart even when their ranges do not overlap:
# with one epoch each the "range" is a single point.
NEAR_FRACTION = 0.05
# Sweeps and scenarios rerun a too-short trial with up to this many epochs (see autorange_epochs).
AUTORANGE_MAX_EPOCHS = 12
# A rerun aims this far past the minimum (within AUTORANGE_MAX_EPOCHS): epoch times vary up to 2x
# between identical runs here; a rerun sized to just reach it came out short about half the time
# (0.85 s for 1 s), and one with 1.5x once still did (0.81 s: its epochs ran 2x faster than the
# first run's).
AUTORANGE_MARGIN = 2.0

DEFINITION = (
    "Steady throughput: the median images/s of the epochs after the first (epoch 1 fills caches "
    "and traces graphs), with the slowest and fastest of those epochs as its range. "
    f"Stable only when those epochs lasted at least {MIN_MEASURED_SECONDS:g} s together and read "
    f"at least {MIN_MEASURED_IMAGES} images."
)


def measure(epochs: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """The throughput of a run from its per-epoch ``images`` and ``seconds``.

    Returns ``images_per_second`` (median over the epochs used, None without a timed epoch),
    ``min``/``max`` (per-epoch rates), ``epochs_used`` (1-based), ``measured_seconds``,
    ``measured_images``, ``stable`` and ``reason`` (why it is not stable; empty when it is).
    """
    epochs = list(epochs or [])
    used = epochs[1:] if len(epochs) > 1 else epochs
    timed = []
    for position, epoch in enumerate(used, start=2 if len(epochs) > 1 else 1):
        seconds, images = _number(epoch.get("seconds")), _number(epoch.get("images"))
        if seconds and seconds > 0 and images is not None:
            number = int(_number(epoch.get("index")) + 1) if epoch.get("index") is not None else position
            timed.append((number, images, seconds))
    rates = [images / seconds for _, images, seconds in timed]
    out: dict[str, Any] = {
        "images_per_second": statistics.median(rates) if rates else None,
        "min": min(rates) if rates else None,
        "max": max(rates) if rates else None,
        "epochs_used": [number for number, _, _ in timed],
        "measured_seconds": sum(seconds for _, _, seconds in timed),
        "measured_images": int(sum(images for _, images, _ in timed)),
        "stable": False,
        "reason": "",
        "epochs_needed": None,  # total epochs (warm-up included) that would reach the minimum time
    }
    seconds, images = out["measured_seconds"], out["measured_images"]
    if not timed:
        out["reason"] = "no epoch finished with a timing"
    elif len(epochs) < 2:
        out["reason"] = (
            "only epoch 1 finished, and it includes the warm-up (caches filling, graphs tracing); "
            "run 2 or more epochs"
        )
    elif seconds < MIN_MEASURED_SECONDS:
        if seconds > 0:
            out["epochs_needed"] = 1 + math.ceil(MIN_MEASURED_SECONDS / (seconds / len(timed)))
        out["reason"] = (
            f"the epochs after the first lasted {_seconds(seconds)} in total, under the "
            f"{MIN_MEASURED_SECONDS:g} s needed for a stable figure; " + _more_needed(out["epochs_needed"])
        )
    elif images < MIN_MEASURED_IMAGES:
        out["reason"] = (
            f"the epochs after the first read {images} images, under the {MIN_MEASURED_IMAGES} "
            "needed for a stable figure; use more steps or a larger folder"
        )
    else:
        out["stable"] = True
    return out


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _more_needed(epochs_needed: int | None) -> str:
    if epochs_needed is None:
        return "use more steps or epochs"
    if epochs_needed > 1000:
        return "this is far too fast to time per epoch: use a larger folder or more steps per epoch"
    return f"about {epochs_needed} epochs (or more steps per epoch, or a larger folder) would reach it"


def autorange_epochs(summary: Mapping[str, Any] | None, epochs: int) -> int | None:
    """Epochs for a rerun whose throughput would be stable (timeit's autorange), or None.

    Only when the run's epochs after the first were too short and at most
    ``AUTORANGE_MAX_EPOCHS`` reach the minimum; the rerun aims ``AUTORANGE_MARGIN`` past it, up to
    that cap; beyond that (a cached epoch of milliseconds)
    hundreds of epochs cost more than the answer is worth, and the figure stays "not stable".
    """
    needed = of_summary(summary)["epochs_needed"]
    if needed is None or needed <= epochs or needed > AUTORANGE_MAX_EPOCHS:
        return None
    return min(1 + math.ceil((needed - 1) * AUTORANGE_MARGIN), AUTORANGE_MAX_EPOCHS)


def of_summary(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """``measure`` of a stored run summary (its ``epochs``); works for summaries of any age."""
    return measure((summary or {}).get("epochs"))


def images_per_second(summary: Mapping[str, Any] | None) -> float | None:
    """The run's one images/s figure (see ``DEFINITION``)."""
    return of_summary(summary)["images_per_second"]


def spread_note(result: Mapping[str, Any]) -> str:
    """'range 262–280 img/s', plus ' · not stable' when it is not; '' without a figure."""
    if result.get("images_per_second") is None:
        return ""
    parts = []
    low, high = result.get("min"), result.get("max")
    if low is not None and high is not None and len(result.get("epochs_used") or []) > 1:
        parts.append(f"range {_rate(low, unit=False)}–{_rate(high)}")
    if not result.get("stable"):
        parts.append("not stable (too short)")
    return " · ".join(parts)


def _rate(value: float, *, unit: bool = True) -> str:
    text = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    return text + (" img/s" if unit else "")


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Whether two throughputs (``measure`` results) differ measurably.

    ``{"measurable": bool, "ratio": a/b or None, "reason": text}``. Not measurable when either is
    missing or unstable, when their per-epoch ranges overlap, or when the medians are within
    ``NEAR_FRACTION`` of each other.
    """
    rate_a, rate_b = a.get("images_per_second"), b.get("images_per_second")
    ratio = rate_a / rate_b if rate_a is not None and rate_b else None
    if rate_a is None or rate_b is None:
        return {"measurable": False, "ratio": ratio, "reason": "a throughput is missing"}
    for name, result in (("first", a), ("second", b)):
        if not result.get("stable"):
            return {
                "measurable": False,
                "ratio": ratio,
                "reason": f"the {name} timing is too short to be stable: {result.get('reason')}",
            }
    if max(a["min"], b["min"]) <= min(a["max"], b["max"]):
        return {
            "measurable": False,
            "ratio": ratio,
            "reason": "no measurable difference: the per-epoch ranges overlap "
            f"({_rate(a['min'], unit=False)}–{_rate(a['max'])} and {_rate(b['min'], unit=False)}–{_rate(b['max'])})",
        }
    if abs(rate_a - rate_b) <= NEAR_FRACTION * max(rate_a, rate_b):
        return {
            "measurable": False,
            "ratio": ratio,
            "reason": f"no measurable difference: the medians are within {NEAR_FRACTION:.0%} of each other",
        }
    return {"measurable": True, "ratio": ratio, "reason": ""}


# Rates over a run's time, from its events ---------------------------------------------------


def event_data(value: Any) -> dict:
    """An event's ``data``: the dict itself, a JSON object's text parsed, anything else ``{}``."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def throughput_frame(events: pd.DataFrame, t_ready: float) -> pd.DataFrame:
    """Images/s between consecutive ``step`` events of each epoch.

    Rows: ``t_start``/``t_end`` (seconds since ready), ``epoch`` (1-based), ``images_per_second``.
    The first interval of an epoch starts at its ``epoch_start`` event, so the time spent waiting
    for the first batch (cache fills, worker start-up) counts against the rate, as users feel it.
    """
    # pandas only here: `python -m diagnostics scan` imports this module and must not pay for it.
    import pandas as pd

    columns = ["t_start", "t_end", "epoch", "images_per_second"]
    if events is None or events.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    last: dict[int, tuple[float, int]] = {}
    for row in events.sort_values("t").itertuples():
        data = event_data(row.data)
        if row.kind == "epoch_start":
            last[int(data.get("epoch", 0))] = (float(row.t), 0)
        elif row.kind == "step":
            epoch = int(data.get("epoch", 0))
            images = int(data.get("images", 0))
            t_prev, images_prev = last.get(epoch, (None, 0))
            if t_prev is not None and row.t > t_prev and images >= images_prev:
                rate = (images - images_prev) / (float(row.t) - t_prev)
                rows.append((t_prev - t_ready, float(row.t) - t_ready, epoch + 1, rate))
            last[epoch] = (float(row.t), images)
    return pd.DataFrame(rows, columns=columns)


def epoch_means(events: pd.DataFrame, t0: float) -> list[tuple[float, float, float]]:
    """(start, end, images/s) of every finished epoch, times in seconds since ``t0``: the epoch's
    images over its ``epoch_end`` seconds, drawn from its ``epoch_start`` to its ``epoch_end``."""
    if events is None or events.empty:
        return []
    starts = {}
    out = []
    for row in events.sort_values("t").itertuples():
        data = event_data(row.data)
        if row.kind == "epoch_start":
            starts[int(data.get("epoch", 0))] = float(row.t)
        elif row.kind == "epoch_end":
            epoch = int(data.get("epoch", 0))
            seconds = data.get("seconds")
            images = data.get("images")
            if seconds and images is not None and epoch in starts:
                out.append((starts[epoch] - t0, float(row.t) - t0, float(images) / float(seconds)))
    return out
