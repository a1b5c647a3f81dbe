"""What a run that did not complete can honestly show (the Run page and the HTML report).

A budget kill, a timeout, a cancel or a crash ends a run part-way. Its summary still has numbers
(a peak from sampled VmHWM, a "baseline" from the first sample when the worker never reported
ready), but an overhead, a memory model, "no findings" or "the code the worker ran" would read as
a healthy, finished run. So such a run shows, first, its status and why, then what was measured
until it stopped: samples, epochs completed, the peak sampled, and findings only if there are some.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnostics import throughput, views
from diagnostics.config import dashboard_text
from diagnostics.status import ACTIVE_STATUSES
from diagnostics.units import format_bytes, format_rate, format_seconds

__all__ = ["completed", "measured_metrics", "outcome_text", "reached_ready", "snippet_caption"]


def completed(run: Mapping[str, Any]) -> bool:
    return run.get("status") == "completed"


def reached_ready(run: Mapping[str, Any]) -> bool:
    """Whether the worker finished importing TensorFlow and Keras (so its pipeline code ran)."""
    return run.get("t_ready") is not None


def _epochs(run: Mapping[str, Any]) -> tuple[int, int]:
    done = len((run.get("summary") or {}).get("epochs") or [])
    planned = int((run.get("config") or {}).get("epochs") or 0)
    return done, planned


def outcome_text(run: Mapping[str, Any]) -> str | None:
    """Markdown: the status, the error, then what was measured; None for a completed or live run."""
    status = run.get("status")
    if completed(run) or status in ACTIVE_STATUSES:
        return None
    summary = run.get("summary") or {}
    done, planned = _epochs(run)
    error = dashboard_text(run.get("error") or "no reason was recorded").strip()
    text = f"**{views.common.STATUS_TEXT.get(status, status)}**: {error}\n\n"
    text += (
        f"Measured before it stopped: {summary.get('samples') or 0} memory samples over "
        f"{format_seconds(summary.get('duration_seconds'))}; {done} of {planned} epochs completed; "
        f"peak RSS sampled {format_bytes(summary.get('peak_rss_bytes'))}."
    )
    if not reached_ready(run):
        text += (
            " The worker never reported ready (it stopped while importing TensorFlow and Keras): "
            "no pipeline code ran and there is no baseline to measure an overhead against."
        )
    else:
        text += " Overhead, memory model and leak verdict need a completed run and are not shown."
    return text


def measured_metrics(run: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, help) of what a run that did not complete actually measured."""
    summary = run.get("summary") or {}
    done, planned = _epochs(run)
    metrics = [
        (
            "Peak RSS until it stopped",
            format_bytes(summary.get("peak_rss_bytes")),
            f"Highest memory measured before the run ended ({summary.get('peak_source') or 'no data'}).",
        ),
        ("Epochs completed", f"{done} of {planned}", "Epochs that finished before the run ended."),
    ]
    rate = throughput.of_summary(summary)
    if rate["images_per_second"] is not None and done >= 2:
        metrics.append(
            ("Throughput", format_rate(rate["images_per_second"]), views.common.throughput_help(rate))
        )
    return metrics


def snippet_caption(run: Mapping[str, Any]) -> str | None:
    """The caption of the run's code, or None when no code ran (the worker never got ready)."""
    if completed(run):
        return "This is the code the worker ran; copy it with the button at the top right."
    if not reached_ready(run):
        return None
    status = views.common.STATUS_TEXT.get(run.get("status"), run.get("status"))
    return f"The code of this trial. It did not complete ({status}); the worker was stopped part-way."
