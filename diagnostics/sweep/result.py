"""A sweep's outcome: its rows read back from the store, the Pareto front (lowest peak for each
level of throughput), and the recommendation (fastest within the memory budget, lowest peak among
the configs no measurably slower) or the refusal that says why there is none.

Throughput is the steady images/s (first epoch excluded) when the run has it, because epoch 1
includes cache filling and tracing that a long training run pays once.
"""

from __future__ import annotations

from typing import Any

from diagnostics import throughput
from diagnostics.host import available_ram_bytes
from diagnostics.sweep.grid import _options_of
from diagnostics.units import MiB, format_mib, number

__all__ = ["pareto_front", "recommend", "refusal", "sweep_result"]


def _throughput(row: dict[str, Any]) -> float | None:
    for key in ("steady_images_per_second", "images_per_second"):
        value = number(row.get(key))
        if value is not None:
            return value
    return None


def _peak(row: dict[str, Any]) -> float | None:
    return number(row.get("peak_rss_bytes"))


def _usable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if r.get("status", "completed") == "completed" and _throughput(r) is not None and _peak(r) is not None
    ]


def pareto_front(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Points no other point beats on both axes (lower peak AND higher images/s), by peak.

    Only points whose throughput is stable: a timing too short to trust neither joins the front
    nor pushes others off it.
    """
    usable = sorted(
        (p for p in _usable(points) if _rate(p).get("stable")), key=lambda p: (_peak(p), -_throughput(p))
    )
    front: list[dict[str, Any]] = []
    best = float("-inf")
    for point in usable:
        if _throughput(point) > best:
            front.append(point)
            best = _throughput(point)
    return front


def _default_budget() -> int | None:
    available = available_ram_bytes()  # None without psutil or /proc: recommend without a budget
    return None if available is None else int(0.8 * available)


def _label(row: dict[str, Any]) -> str:
    return f"run #{row.get('run_id', row.get('id'))}"


def _rate(row: dict[str, Any]) -> dict[str, Any]:
    """The row's ``throughput.measure`` result; a bare number (no epochs known) counts as one
    stable timing with no spread."""
    if row.get("throughput"):
        return row["throughput"]
    rate = _throughput(row)
    return {"images_per_second": rate, "min": rate, "max": rate, "stable": True, "reason": ""}


def _unstable_text(rows: list[dict[str, Any]]) -> str:
    return "; ".join(f"{_label(r)} ({_throughput(r):,.1f} images/s): {_rate(r).get('reason')}" for r in rows)


def refusal(rows: list[dict[str, Any]], memory_budget_bytes: int | None = None) -> str | None:
    """Why there is no recommendation (None when there is one)."""
    budget = memory_budget_bytes if memory_budget_bytes is not None else _default_budget()
    fitting = [r for r in _usable(rows) if budget is None or _peak(r) <= budget]
    if not fitting:
        return "No completed trial with a throughput and a peak fits the memory budget."
    unstable = [r for r in fitting if not _rate(r).get("stable")]
    if len(unstable) == len(fitting):
        return (
            "No recommendation: every timing is too short to be stable "
            f"(a figure needs {throughput.MIN_MEASURED_SECONDS:g} s of epochs after the first): "
            + _unstable_text(unstable)
            + "."
        )
    return None


def recommend(rows: list[dict[str, Any]], memory_budget_bytes: int | None = None) -> dict[str, Any] | None:
    """The fastest completed config within the budget whose timing is stable, preferring the
    lowest peak among configs with no measurable difference in throughput from it (per-epoch
    ranges overlap, or medians within 5%). Returns a copy of the chosen row plus ``reason`` (text
    citing the numbers) and ``candidates`` (ids considered as fast); None when nothing qualifies
    (``refusal`` says why). A timing under ``throughput.MIN_MEASURED_SECONDS`` is never the basis.

    ``memory_budget_bytes`` None means 80% of the RAM available now (the trial budget's default).
    """
    budget = memory_budget_bytes if memory_budget_bytes is not None else _default_budget()
    usable = _usable(rows)
    fitting = [r for r in usable if budget is None or _peak(r) <= budget]
    unstable = [r for r in fitting if not _rate(r).get("stable")]
    stable = [r for r in fitting if _rate(r).get("stable")]
    if not stable:
        return None
    fastest = max(stable, key=_throughput)
    best_rate = _throughput(fastest)
    near = [
        r for r in stable if r is fastest or not throughput.compare(_rate(r), _rate(fastest))["measurable"]
    ]
    pick = min(near, key=lambda r: (_peak(r), -_throughput(r)))
    budget_text = f"within the {budget / MiB:,.0f} MiB budget" if budget is not None else "with no budget"
    excluded = len(usable) - len(fitting)
    reason = (
        f"{_label(pick)}: {_throughput(pick):,.1f} images/s at a peak of {format_mib(_peak(pick))}. "
        f"Fastest {budget_text}: {_label(fastest)} at {best_rate:,.1f} images/s "
        f"({format_mib(_peak(fastest))} peak)."
    )
    if pick is not fastest:
        reason += (
            f" {len(near)} configs show no measurable difference in throughput from it (per-epoch ranges "
            f"overlap or medians within {throughput.NEAR_FRACTION:.0%}); "
            f"{_label(pick)} has the lowest peak among them, "
            f"{format_mib(_peak(fastest) - _peak(pick))} less for "
            f"{100 * (1 - _throughput(pick) / best_rate):.1f}% lower median throughput."
        )
    if unstable:
        reason += (
            f" {len(unstable)} config(s) had timings too short to be stable and were not considered: "
            + _unstable_text(unstable)
            + "."
        )
    if excluded:
        reason += f" {excluded} completed config(s) peaked above the budget and were not considered."
    return {
        **pick,
        "reason": reason,
        "memory_budget_bytes": budget,
        "candidates": [r.get("run_id", r.get("id")) for r in near],
    }


def sweep_result(store: Any, sweep_id: int, memory_budget_bytes: int | None = None) -> dict[str, Any]:
    """Rows (one per run, with the swept options), the Pareto front and the recommendation."""
    sweep = store.get_sweep(sweep_id)
    grid = sweep.get("grid") or {}
    if memory_budget_bytes is None:
        memory_budget_bytes = (sweep.get("summary") or {}).get("memory_budget_bytes") or (
            sweep.get("base_config") or {}
        ).get("memory_budget_bytes")
    rows = []
    for run_id in sweep.get("run_ids") or []:
        run = store.get_run(run_id)
        summary = run.get("summary") or {}
        config = run.get("config") or {}
        rate = throughput.of_summary(summary)
        rows.append(
            {
                "run_id": run_id,
                "id": run_id,
                "status": run.get("status"),
                "options": _options_of(config, grid),
                "config": config,
                "peak_rss_bytes": summary.get("peak_rss_bytes"),
                "baseline_rss_bytes": summary.get("baseline_rss_bytes"),
                "images_per_second": rate["images_per_second"],
                "steady_images_per_second": rate["images_per_second"],
                "throughput": rate,
                "leak_bytes_per_epoch": summary.get("leak_bytes_per_epoch"),
                "findings": [f.get("id") for f in run.get("findings") or []],
            }
        )
    front = pareto_front(rows)
    recommendation = recommend(rows, memory_budget_bytes)
    if recommendation is not None:
        recommendation["snippet"] = store.get_run(recommendation["run_id"]).get("snippet") or ""
    return {
        "sweep_id": sweep_id,
        "name": sweep.get("name"),
        "status": sweep.get("status"),
        "grid": grid,
        "rows": rows,
        "front": front,
        "recommendation": recommendation,
        "refusal": refusal(rows, memory_budget_bytes) if recommendation is None else None,
        "invalid": (sweep.get("summary") or {}).get("invalid", []),
    }
