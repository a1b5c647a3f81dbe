"""The Compare page's table rows and per-epoch frame (the HTML comparison uses them too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from diagnostics import throughput
from diagnostics.units import format_bytes, format_rate
from diagnostics.views.common import leak_verdict_text

__all__ = ["compare_row", "epochs_frame"]


def compare_row(run: Mapping[str, Any], label: str) -> dict[str, Any]:
    """One run's row of the Compare table (and the HTML comparison)."""
    summary = run.get("summary") or {}
    return {
        "run": label,
        "status": run.get("status"),
        "peak": format_bytes(summary.get("peak_rss_bytes")),
        "baseline": format_bytes(summary.get("baseline_rss_bytes")),
        "images/s": format_rate(throughput.images_per_second(summary)),
        "stable": "yes" if throughput.of_summary(summary)["stable"] else "no",
        "leak verdict": leak_verdict_text(run)[0],
        "findings": len(run.get("findings") or []),
    }


def epochs_frame(summaries: Mapping[str, Mapping[str, Any] | None]) -> pd.DataFrame:
    """Per-epoch rows (run, epoch (1-based), images, seconds, images_per_second, rss_end_bytes)."""
    rows = []
    for label, summary in summaries.items():
        for epoch in (summary or {}).get("epochs") or []:
            rows.append(
                {
                    "run": label,
                    "epoch": int(epoch.get("index", 0)) + 1,
                    "images": epoch.get("images"),
                    "seconds": epoch.get("seconds"),
                    "images_per_second": epoch.get("images_per_second"),
                    "rss_end_bytes": epoch.get("rss_end_bytes"),
                }
            )
    return pd.DataFrame(
        rows, columns=["run", "epoch", "images", "seconds", "images_per_second", "rss_end_bytes"]
    )
