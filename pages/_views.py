"""Streamlit renderers for one run (live or finished), shared by the Run and History pages.

Everything here reads the store only: never the worker or its pipe. A page calls ``run_view``
inside a fragment that reruns every second while the run is queued or running.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from diagnostics import charts, ui
from diagnostics.store import Store
from pages._common import plot

STATUS_TEXT = {
    "queued": "Queued",
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "killed_budget": "Killed: memory budget crossed",
    "timed_out": "Timed out",
    "cancelled": "Cancelled",
    "interrupted": "Interrupted (the process running it died)",
}


def run_view(store: Store, run_id: int, *, key: str = "run") -> dict[str, Any]:
    """Status, progress, live figure, log panel and (when finished) the results of one run."""
    run = store.get_run(run_id)
    status = run["status"]
    samples = store.samples(run_id)
    events = store.events(run_id)
    _status_line(store, run)
    if status in ui.ACTIVE_STATUSES:
        _progress(run, events)
    summary = run.get("summary") or {}
    config = run.get("config") or {}
    plot(
        charts.memory_throughput_figure(
            samples,
            events,
            t_ready=run.get("t_ready"),
            baseline_bytes=summary.get("baseline_rss_bytes") or _ready_rss(events),
            budget_bytes=run.get("memory_budget_bytes")
            or config.get("memory_budget_bytes")
            or summary.get("memory_budget_bytes"),
            peak_bytes=summary.get("peak_rss_bytes"),
        ),
        key=f"{key}_figure",
    )
    if status not in ui.ACTIVE_STATUSES:
        results(run)
    log_panel(store, run, events)
    return run


def _ready_rss(events: pd.DataFrame) -> float | None:
    ready = events[events["kind"] == "ready"] if not events.empty else events
    if ready.empty:
        return None
    return (ready["data"].iloc[0] or {}).get("rss_bytes")


def _status_line(store: Store, run: dict[str, Any]) -> None:
    status = run["status"]
    text = f"{ui.STATUS_ICONS.get(status, '')} **Run #{run['id']}** · {STATUS_TEXT.get(status, status)} · "
    text += f"`{run.get('loader')}` on `{run.get('dataset_path')}`"
    st.markdown(text)
    if status == "queued":
        ahead = store.queue_position(run["id"])
        st.info(
            f"Waiting in the queue: {ahead} trial(s) ahead of this one."
            if ahead
            else "Next in line: starting…",
            icon=":material/hourglass_top:",
        )
    if run.get("cancel_requested") and status in ui.ACTIVE_STATUSES:
        st.warning(
            "Cancel requested; the runner stops the worker within a second.", icon=":material/stop_circle:"
        )
    if run.get("error") and status not in ("completed",):
        st.error(run["error"], icon=":material/error:")


def _progress(run: dict[str, Any], events: pd.DataFrame) -> None:
    config = run.get("config") or {}
    epochs = int(config.get("epochs") or 1)
    steps = config.get("steps")
    if not steps:
        images = (run.get("scan") or {}).get("num_images") or 0
        steps = max(1, math.ceil(images / int(config.get("batch_size") or 32))) if images else None
    epoch, step = 0, -1
    started = not events.empty and (events["kind"] == "ready").any()
    for row in events.itertuples():
        if row.kind == "epoch_start":
            epoch, step = int(row.data.get("epoch", 0)), -1
        elif row.kind == "step":
            epoch, step = int(row.data.get("epoch", 0)), int(row.data.get("step", 0))
    if not started:
        st.progress(0.0, text="Starting the worker (importing TensorFlow)…")
        return
    done_steps = step + 1
    fraction = (epoch + (done_steps / steps if steps else 0.0)) / epochs
    step_text = f"step {done_steps}/{steps}" if steps else f"step {done_steps}"
    st.progress(min(max(fraction, 0.0), 1.0), text=f"Epoch {epoch + 1}/{epochs} · {step_text}")


def headline(run: dict[str, Any]) -> None:
    summary = run.get("summary") or {}
    peak = summary.get("peak_rss_bytes")
    baseline = summary.get("baseline_rss_bytes")
    overhead = summary.get("measured_overhead_bytes")
    if overhead is None and peak is not None and baseline is not None:
        overhead = peak - baseline
    rate = summary.get("steady_images_per_second") or summary.get("images_per_second")
    a, b, c, d = st.columns(4)
    a.metric(
        "Peak RSS (VmHWM)",
        ui.format_bytes(peak),
        help="Highest resident memory of the worker, read from VmHWM.",
    )
    b.metric(
        "Overhead over baseline",
        ui.format_bytes(overhead, signed=True),
        help=f"Peak minus the RSS at ready (baseline {ui.format_bytes(baseline)}).",
    )
    c.metric(
        "Throughput",
        ui.format_rate(rate),
        help="Steady-state images/s (epoch 1 excluded when there are more).",
    )
    verdict, detail = leak_verdict(run)
    d.metric("Leak verdict", verdict, help=detail)


def leak_verdict(run: dict[str, Any]) -> tuple[str, str]:
    summary = run.get("summary") or {}
    slope = summary.get("leak_bytes_per_epoch")
    leak = summary.get("leak") or {}
    reason = leak.get("reason") or leak.get("detail") or ""
    if slope is None:
        return "n/a", reason or "Needs at least 3 epochs."
    grows = leak.get("growing", any(f.get("id") == "memory_growth" for f in run.get("findings") or []))
    label = f"{'growing' if grows else 'no leak'} {ui.format_bytes(slope, signed=True)}/epoch"
    noise = leak.get("noise_band_bytes_per_epoch")
    band = f" Noise band ±{ui.format_bytes(noise)}/epoch." if noise is not None else ""
    return label, (reason or "Least-squares slope of epoch-end RSS over epochs 2..N.") + "." + band


def findings(items: list[dict[str, Any]] | None, *, compact: bool = False) -> None:
    items = ui.sorted_findings(items)
    if not items:
        st.success("No findings: nothing in this run needs attention.", icon=":material/check_circle:")
        return
    for finding in items:
        box = {"critical": st.error, "warning": st.warning}.get(finding.get("severity"), st.info)
        text = f"**{finding.get('title', finding.get('id'))}**  \n{finding.get('detail', '')}"
        if finding.get("advice"):
            text += f"  \n→ {finding['advice']}"
        box(text)
        if finding.get("evidence") and not compact:
            with st.expander(f"Evidence for `{finding.get('id')}`"):
                st.json(finding["evidence"], expanded=False)


def results(run: dict[str, Any]) -> None:
    summary = run.get("summary") or {}
    if not summary:
        return
    headline(run)
    st.subheader("Findings")
    findings(run.get("findings"))
    model = summary.get("memory_model")
    if model:
        plot(
            charts.memory_model_figure(model, summary.get("measured_overhead_bytes")),
            key=f"model_{run['id']}",
        )
        projection = summary.get("projection")
        if projection:
            with st.expander("Projection to the full folder"):
                st.json(projection)
    if run.get("snippet"):
        st.subheader("The measured pipeline as code")
        st.caption("This is the code the worker ran; copy it with the button at the top right.")
        st.code(run["snippet"], language="python")


def log_panel(store: Store, run: dict[str, Any], events: pd.DataFrame) -> None:
    groups = run.get("log_groups")
    if not groups:
        from diagnostics.logs import group_logs  # live: group what has arrived so far

        starts = events[events["kind"] == "epoch_start"]["t"].tolist() if not events.empty else []
        groups = group_logs(store.logs(run["id"]), starts)
    known = sum(1 for g in groups if g.get("known"))
    with st.expander(
        f"Log lines: {sum(g.get('count', 0) for g in groups)} in {len(groups)} groups "
        f"({known} known, {len(groups) - known} with no verified source)"
    ):
        if not groups:
            st.caption("No output from the worker yet.")
            return
        table = pd.DataFrame(
            [
                {
                    "count": g.get("count"),
                    "level": g.get("level"),
                    "known": "known" if g.get("known") else "unknown",
                    "source": g.get("source") or "–",
                    "message": g.get("template"),
                    "explanation": g.get("explanation") or "no verified source",
                    "per epoch": ", ".join(str(n) for n in g.get("per_epoch") or []),
                }
                for g in sorted(groups, key=lambda g: -int(g.get("count") or 0))
            ]
        )
        st.dataframe(table, hide_index=True, width="stretch")
        t_ready = run.get("t_ready")
        if t_ready is not None and any(g.get("times") for g in groups):
            plot(charts.log_timeline_figure(groups, events, t_ready), key=f"logs_{run['id']}")
