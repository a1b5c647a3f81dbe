"""Small statistics for alternated measurements: medians with min/max, paired ratios.

Every figure the benchmark reports is a ratio or an exact difference measured in one run, because
epoch timings on a shared box vary up to 2x between identical runs: only measurements taken side by
side, alternated, can be compared.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["alternate", "spread"]


def spread(values: Sequence[float]) -> dict[str, Any]:
    """{"median", "min", "max", "n", "values"} of a non-empty list (None entries are dropped)."""
    kept = [float(v) for v in values if v is not None]
    if not kept:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    return {
        "median": statistics.median(kept),
        "min": min(kept),
        "max": max(kept),
        "n": len(kept),
        "values": [round(v, 6) for v in kept],
    }


def alternate(measures: Sequence[Callable[[], Any]], rounds: int, rotate: bool = False) -> list[list[Any]]:
    """Run the measures A B [C] A B [C] ... for `rounds` rounds; result[i] lists measure i's results.

    With `rotate`, round r starts at measure r % len(measures) (A B C, B C A, ...), so no measure
    always runs right after the same neighbour; the plain order is the A B A B of the issue.
    """
    results: list[list[Any]] = [[] for _ in measures]
    for round_index in range(rounds):
        order = list(range(len(measures)))
        if rotate:
            shift = round_index % len(measures)
            order = order[shift:] + order[:shift]
        for i in order:
            results[i].append(measures[i]())
    return results
