"""The Sweep page's stored-sweep labels, trial points and trial table in human units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from diagnostics.status import FINISHED_STATUSES
from diagnostics.units import format_bytes, format_rate, format_seconds
from diagnostics.views.common import format_value

__all__ = ["plan_text", "progress", "sweep_labels", "sweep_points_frame", "sweep_trials_table"]


def plan_text(trials: int, seconds: float, executor: str, slots: int | None) -> str:
    """The sentence above Run sweep: how many trials and how long, one after another or on the
    cluster's ``slots`` nodes side by side."""
    spread = f"on {slots} nodes side by side" if executor == "ray" else "one after another"
    return f"{trials} trial(s), about {format_seconds(seconds / (slots or 1))} {spread}."


def progress(stored: Mapping[str, Any], result: Mapping[str, Any]) -> tuple[float, str, int]:
    """(fraction, text, finished trials) of a sweep: its stored row and its ``sweep_result``."""
    total = (stored.get("summary") or {}).get("trials") or len(result["rows"])
    finished = sum(1 for row in result["rows"] if row["status"] in FINISHED_STATUSES)
    text = f"{finished} of {total} trials finished · sweep {result['status']}"
    return finished / max(total, 1), text, finished


def sweep_labels(sweeps: pd.DataFrame) -> dict[int, str]:
    return {
        int(r.id): f"#{r.id} {r.name} · {r.status} · {r.runs} runs · {r.created}" for r in sweeps.itertuples()
    }


def sweep_points_frame(result: Mapping[str, Any]) -> pd.DataFrame:
    """One row per sweep trial (id, label, status, peak_rss_bytes, images_per_second, on_front)."""
    front_ids = {row["id"] for row in result["front"]}
    return pd.DataFrame(
        [
            {
                "id": row["id"],
                "label": f"#{row['id']} "
                + ", ".join(f"{k}={format_value(v)}" for k, v in row["options"].items()),
                "status": row["status"],
                "peak_rss_bytes": row["peak_rss_bytes"],
                "images_per_second": row["images_per_second"],
                "stable": bool((row.get("throughput") or {}).get("stable")),
                "on_front": row["id"] in front_ids,
            }
            for row in result["rows"]
        ],
        columns=["id", "label", "status", "peak_rss_bytes", "images_per_second", "stable", "on_front"],
    )


def sweep_trials_table(points: pd.DataFrame) -> pd.DataFrame:
    """The sweep's trial table with memory and throughput in human units."""
    table = points.assign(
        peak=points["peak_rss_bytes"].map(format_bytes),
        throughput=points["images_per_second"].map(format_rate),
    )
    return table[["id", "label", "status", "peak", "throughput", "stable", "on_front"]]
