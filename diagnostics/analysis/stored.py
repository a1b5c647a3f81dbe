"""Analysis of a stored run: read its frames from the store, analyse them, never lose the run.

``analyze_run`` is what the runner calls when a trial ends (its summary, findings and log groups
go into the run's row) and what a library user calls to analyse a stored run again. A table the
store cannot read is an empty frame, and an analysis that fails still gives the headline numbers
straight from the frames (``basic_summary``) with the failure in ``analysis_error``.

Example:
    >>> result = analyze_run(Store(), run_id)
    >>> result["summary"]["peak_rss_bytes"], [f["id"] for f in result["findings"]]
"""

from __future__ import annotations

from typing import Any

from diagnostics import throughput
from diagnostics.errors import StoreBusy, StoreError
from diagnostics.store import SAMPLE_COLUMNS

__all__ = ["analyze_run", "basic_summary"]


def analyze_run(
    store: Any,
    run_id: int,
    *,
    status: str | None = None,
    message: str | None = None,
    peak_bytes: int | None = None,
    peak_source: str = "",
    budget_bytes: int | None = None,
) -> dict[str, Any]:
    """``analysis.analyze`` of run ``run_id`` as stored: {summary, findings, log_groups[, analysis_error]}.

    The runner passes how the run ended (``status``, ``message``: the row still says "running"
    until its final update) and its own peak reading and budget; by default the stored row's.
    """
    from diagnostics import analysis  # the package's analyze (late: this module is part of it)

    stored = store.get_run(run_id)
    run = {
        **stored,
        "status": stored.get("status") if status is None else status,
        "error": stored.get("error") if status is None else message,
    }
    samples = _frame_or_empty(store.samples, run_id, SAMPLE_COLUMNS)
    events = _frame_or_empty(store.events, run_id, ["t", "kind", "data"])
    logs = _frame_or_empty(store.logs, run_id, ["t", "stream", "line"])
    result: dict[str, Any]
    try:
        pipeline, composition = store.pipeline(run_id), store.composition(run_id)
        # Analysis reads the run's stored scan summary, as every later reader of the run does.
        result = dict(
            analysis.analyze(run, samples, events, logs, None, pipeline=pipeline, composition=composition)
        )
    except Exception as exc:  # an analysis bug must not lose the measured run
        result = {
            "summary": basic_summary(samples, events),
            "findings": [],
            "log_groups": [],
            "analysis_error": f"analysis failed: {type(exc).__name__}: {exc}",
        }
    summary = dict(result.get("summary") or {})
    # analysis reads the same peak from the frames (done event, else sampled VmHWM); the runner's
    # own reading only fills the gap when analysis could not run.
    if summary.get("peak_rss_bytes") is None and peak_bytes is not None:
        summary["peak_rss_bytes"] = peak_bytes
        summary["peak_source"] = peak_source
    summary.setdefault("memory_budget_bytes", budget_bytes)
    result["summary"] = summary
    result.setdefault("findings", [])
    result.setdefault("log_groups", [])
    return result


def _frame_or_empty(read, run_id: int, columns: list[str]):
    # A table the store cannot read (the damage that failed the run) must not also lose the others.
    try:
        return read(run_id)
    except StoreBusy:
        raise
    except StoreError:
        import pandas as pd

        return pd.DataFrame(columns=list(columns))


def basic_summary(samples, events) -> dict[str, Any]:
    """Headline numbers straight from the frames; used only when ``analysis.analyze`` fails."""

    def of_kind(kind: str) -> list[dict]:
        if events.empty:
            return []
        rows = events[events["kind"] == kind]
        return [{"t": t, **data} for t, data in zip(rows["t"], rows["data"], strict=True)]

    ready = (of_kind("ready") or [None])[0]
    done = (of_kind("done") or [None])[-1]
    epochs = []
    for e in of_kind("epoch_end"):
        seconds = e.get("seconds") or 0
        epochs.append(
            {
                "index": e.get("epoch"),
                "images": e.get("images"),
                "seconds": seconds,
                "images_per_second": (e.get("images") or 0) / seconds if seconds else None,
                "rss_end_bytes": e.get("rss_bytes"),
            }
        )
    gcs = of_kind("gc")
    fds = list(samples["fds"].dropna()) if not samples.empty else []
    return {
        "baseline_rss_bytes": ready.get("rss_bytes") if ready else None,
        "peak_rss_bytes": None,
        "peak_tree_rss_bytes": int(samples["rss_bytes"].max()) if not samples.empty else None,
        "final_rss_bytes": (done or {}).get("rss_bytes")
        or (int(samples["main_rss_bytes"].iloc[-1]) if not samples.empty else None),
        "images_per_second": throughput.images_per_second({"epochs": epochs}),
        "leak_bytes_per_epoch": None,
        "fds": {"start": fds[0], "max": max(fds), "end": fds[-1]} if fds else None,
        "gc": {
            "collections": [sum(g["collections"][i] for g in gcs) for i in range(3)] if gcs else [0, 0, 0],
            "pause_seconds": sum(g.get("pause_seconds") or 0 for g in gcs),
        },
        "samples": int(len(samples)),
        "duration_seconds": float(samples["t"].iloc[-1] - samples["t"].iloc[0]) if len(samples) > 1 else 0.0,
        "epochs": epochs,
    }
