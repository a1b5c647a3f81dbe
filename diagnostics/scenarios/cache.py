"""Does `cache()` make my RAM grow? No cache, ``cache()`` in memory and ``cache(filename)`` on
disk over the whole folder; the verdict sets the measured cache bytes against the modelled ones,
the steady speed-up against no cache, and the projection for the full folder against available RAM.
"""

from __future__ import annotations

from typing import Any

from diagnostics.config import TrialConfig
from diagnostics.scenarios._common import (
    SAVING_FLOOR_BYTES,
    TRIAL_TIMEOUT_SECONDS,
    Verdict,
    _clear_gap,
    _cost,
    _epoch_series,
    _has_finding,
    _mib,
    _not_measured,
    _ok,
    _overhead,
    _per_trial,
    _rate,
    _speed,
    _summary,
    _throughput,
    _versus,
    _x,
)

__all__ = ["trials", "verdict"]


def trials(dataset: str) -> list[tuple[str, TrialConfig]]:
    # The whole folder (no steps): a cache only pays off, and only reaches its full size, when
    # every image is read; 128x128 float32 makes it large enough to stand above RSS noise.
    base = TrialConfig(
        dataset=dataset,
        loader="keras_directory",
        epochs=3,
        image_size=(128, 128),
        timeout_seconds=TRIAL_TIMEOUT_SECONDS,
    )
    return [
        ("no cache", base),
        ("cache() in memory", base.replace(cache="memory")),
        ("cache(filename) on disk", base.replace(cache="file")),
    ]


def verdict(trials: list[dict[str, Any]], context: dict[str, Any]) -> Verdict:
    plain, memory, file_ = trials[0], trials[1], trials[2]
    plain_overhead, memory_overhead = _overhead(plain), _overhead(memory)
    cache_measured = _minus(memory_overhead, plain_overhead)
    file_cost = _minus(_overhead(file_), plain_overhead)
    modelled = (_summary(memory).get("memory_model") or {}).get("cache")
    epoch1_growth, later_growth, later_epochs = _epoch_growth(memory)
    memory_vs_plain, file_vs_plain = _versus(memory, plain), _versus(file_, plain)
    projection = _summary(memory).get("projection") or {}
    projected = projection.get("cache_bytes") if projection.get("cache_bytes") is not None else modelled
    available = _available_ram(memory, context)
    fits = None if projected is None or not available else projected <= 0.5 * available
    metric = {
        "modelled_cache_bytes": modelled,
        "measured_cache_bytes": cache_measured,
        "epoch1_growth_bytes": epoch1_growth,
        "growth_after_epoch1_bytes": later_growth,
        "steady_speedup_memory": memory_vs_plain["ratio"],
        "steady_speedup_file": file_vs_plain["ratio"],
        "speedup_memory_measurable": memory_vs_plain["measurable"],
        "speedup_file_measurable": file_vs_plain["measurable"],
        "file_cache_cost_bytes": file_cost,
        "projected_cache_bytes": projected,
        "full_dataset_images": projection.get("full_dataset_images"),
        "available_ram_bytes": available,
        "fits_in_ram": fits,
        "trials": _per_trial(
            trials,
            overhead_bytes=_overhead,
            steady_images_per_second=_throughput,
            throughput_stable=lambda t: _speed(t)["stable"],
            peak_rss_bytes=lambda t: _summary(t).get("peak_rss_bytes"),
        ),
    }
    if not _ok(memory) or not _ok(plain):
        return Verdict(
            "The in-memory cache cannot be judged without both the plain and the cached run."
            + _not_measured(trials),
            metric,
            None,
        )
    text = (
        f"{_answer(memory, cache_measured)}: the memory cache cost "
        f"{_cost(cache_measured, 'the run without cache')} ({_mib(memory_overhead)} vs {_mib(plain_overhead)} above baseline), against "
        f"{_mib(modelled)} modelled (the decoded images)"
    )
    if epoch1_growth is not None and later_growth is not None:
        text += (
            f"; RSS rose {_mib(epoch1_growth)} by the end of epoch 1, then {_mib(later_growth, signed=True)}"
            f" over the next {later_epochs} epoch(s)"
        )
    text += _speed_text(plain, memory, file_, memory_vs_plain, file_vs_plain, file_cost)
    text += f". For all {projection.get('full_dataset_images', '?')} images the cache needs {_mib(projected)}"
    if fits is None:
        text += " (available RAM unknown)."
    elif fits:
        text += f": it fits in RAM (under half of the {_mib(available)} available)."
    else:
        text += f": more than half of the {_mib(available)} available, so use the file cache."
    better = _better(trials, memory_vs_plain, file_vs_plain, fits)
    return Verdict(text + _not_measured(trials), metric, better)


def _minus(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _epoch_growth(memory: dict[str, Any]) -> tuple[float | None, float | None, int]:
    """RSS growth of the cached run by the end of epoch 1, over the later epochs, and their count."""
    baseline = _summary(memory).get("baseline_rss_bytes")
    rss_ends = _epoch_series(memory, "rss_end_bytes")
    epoch1 = rss_ends[0] - baseline if rss_ends and rss_ends[0] is not None and baseline else None
    later = _minus(rss_ends[-1], rss_ends[0]) if len(rss_ends) >= 2 else None
    return epoch1, later, len(rss_ends) - 1


def _available_ram(memory: dict[str, Any], context: dict[str, Any]) -> float | None:
    """The RAM the run's cache_exceeds_ram finding measured, else what the machine has now."""
    exceeds = _has_finding(memory, "cache_exceeds_ram")
    return (exceeds or {}).get("evidence", {}).get("available_ram_bytes") or context.get(
        "available_ram_bytes"
    )


def _answer(memory: dict[str, Any], cache_measured: float | None) -> str:
    grows_on = (_summary(memory).get("leak") or {}).get("growing") or _has_finding(memory, "memory_growth")
    if cache_measured is not None and cache_measured < SAVING_FLOOR_BYTES:
        return "Hardly"
    if grows_on:
        return "Yes, and it keeps growing after epoch 1"
    return "Yes, once"


def _speed_text(
    plain: dict[str, Any],
    memory: dict[str, Any],
    file_: dict[str, Any],
    memory_vs_plain: dict[str, Any],
    file_vs_plain: dict[str, Any],
    file_cost: float | None,
) -> str:
    """The steady speed of each cache against no cache: a ratio where the timings allow one, else
    how far apart the measured rates are when that gap is too wide to be noise."""
    judged = _judged(memory, plain, memory_vs_plain, "the memory cache")
    text = ". " + judged[0].upper() + judged[1:]
    if _ok(file_):
        text += f". The file cache cost {_cost(file_cost, 'no cache')}, and " + _judged(
            file_, plain, file_vs_plain, "it", measured="the speed of no cache"
        )
    return text


def _judged(
    cached: dict[str, Any],
    plain: dict[str, Any],
    versus: dict[str, Any],
    subject: str,
    measured: str = "as fast as without cache after epoch 1",
) -> str:
    """'SUBJECT ran 5.03x as fast as without cache ...', or what the measured rates honestly say
    when the timings are too short or too close for a ratio."""
    rates = f"{_rate(_throughput(cached))} vs {_rate(_throughput(plain))}, steady medians"
    if versus["measurable"]:
        return f"{subject} ran {_x(versus['ratio'])} {measured} ({rates})"
    faster, slower = _clear_gap(cached, plain), _clear_gap(plain, cached)
    if faster is not None or slower is not None:
        way = "faster" if faster is not None else "slower"
        return (
            f"{subject} was clearly {way}: {'its slowest' if faster else 'even its fastest'} timed epoch "
            f"ran {_x(faster) if faster else _x(1 / slower)} the {'fastest' if faster else 'slowest'} "
            f"epoch without cache ({rates}), a gap too wide to be timing noise, but no exact speed-up "
            f"is quoted: {versus['reason']}"
        )
    return f"{subject}'s speed against no cache is not judged: {versus['reason']}"


def _better(
    trials: list[dict[str, Any]],
    memory_vs_plain: dict[str, Any],
    file_vs_plain: dict[str, Any],
    fits: bool | None,
) -> int | None:
    """The faster cache that fits, when it beats no cache by more than the 5% noise; else no cache.

    A timing too short to trust names no better pipeline at all.
    """
    better, best_speedup = 0, 1.0
    if not all(_speed(t)["stable"] for t in trials if _ok(t)):
        better = None
    for index, versus, allowed in ((1, memory_vs_plain, fits is not False), (2, file_vs_plain, True)):
        speedup = versus["ratio"]
        if allowed and _ok(trials[index]) and versus["measurable"] and speedup > best_speedup:
            better, best_speedup = index, speedup
    return better
