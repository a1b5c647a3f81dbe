"""Streamlit renderers for one run (live or finished), shared by the Run and History pages.

Everything here reads the store only: never the worker or its pipe. A page calls ``run_view``
inside a fragment that reruns every second while the run is queued or running.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from diagnostics import charts, outcome, views
from diagnostics.config import dashboard_text
from diagnostics.status import ACTIVE_STATUSES
from diagnostics.store import Store
from pages import _xray
from pages._common import plot


def run_view(store: Store, run_id: int, *, key: str = "run") -> dict[str, Any]:
    """Status, progress, live figure, log panel and (when finished) the results of one run."""
    run = store.get_run(run_id)
    status = run["status"]
    samples = store.samples(run_id)
    events = store.events(run_id)
    _status_line(store, run)
    if status in ACTIVE_STATUSES:
        fraction, text = views.run.verification_wait(run) or views.run.progress_state(run, events)
        st.progress(fraction, text=text)
    plot(
        charts.memory_throughput_figure(samples, events, **views.run.memory_figure_marks(run, events)),
        key=f"{key}_figure",
    )
    # Right under the memory figure, on the same time axis: where that memory is (not for a run
    # that ended without completing: its overhead would read as a measurement).
    if status in ACTIVE_STATUSES or outcome.completed(run):
        _xray.run_section(store, run, samples, events, key=key)
    if status not in ACTIVE_STATUSES:
        results(run)
    log_panel(store, run, events)
    return run


def _status_line(store: Store, run: dict[str, Any]) -> None:
    status = run["status"]
    st.markdown(views.run.status_markdown(run))
    if status == "queued":
        st.info(views.run.queue_text(store.queue_position(run["id"])), icon=":material/hourglass_top:")
    if run.get("cancel_requested") and status in ACTIVE_STATUSES:
        st.warning(views.run.CANCEL_REQUESTED_TEXT, icon=":material/stop_circle:")
    ended = outcome.outcome_text(run)  # a run that did not complete: why, and what it measured
    if ended:
        st.error(ended, icon=":material/error:")
    elif run.get("error") and status not in ("completed",):
        st.error(dashboard_text(run["error"]), icon=":material/error:")


def headline(run: dict[str, Any]) -> None:
    metrics, captions = views.run.headline_metrics(run), views.run.headline_captions(run)
    for column, (label, value, help_text), caption in zip(st.columns(4), metrics, captions, strict=True):
        column.metric(label, value, help=help_text)
        if caption:
            column.caption(caption)


def findings(items: list[dict[str, Any]] | None, *, compact: bool = False) -> None:
    items = views.common.sorted_findings(items)
    if not items:
        st.success("No findings: nothing in this run needs attention.", icon=":material/check_circle:")
        return
    for finding in items:
        box = {"critical": st.error, "warning": st.warning}.get(finding.get("severity"), st.info)
        box(views.common.finding_markdown(finding))
        if finding.get("evidence") and not compact:
            with st.expander(f"Evidence for `{finding.get('id')}`"):
                st.dataframe(
                    views.common.evidence_table(finding["evidence"]), hide_index=True, width="stretch"
                )


def results(run: dict[str, Any]) -> None:
    summary = run.get("summary") or {}
    if not summary:
        return
    if not outcome.completed(run):
        partial_results(run)
        return
    headline(run)
    skipped = views.run.skipped_text(run)
    if skipped:  # the files this run did not read, named (not only in the snippet's SKIP set)
        st.info(skipped, icon=":material/filter_alt_off:")
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
                st.dataframe(views.run.projection_table(projection), hide_index=True, width="stretch")
    if run.get("snippet"):
        st.subheader("The measured pipeline as code")
        st.caption(outcome.snippet_caption(run))
        st.code(run["snippet"], language="python")


def partial_results(run: dict[str, Any]) -> None:
    """A run that did not complete: only what it measured, no overhead, model or all-clear."""
    metrics = outcome.measured_metrics(run)
    for column, (label, value, help_text) in zip(st.columns(len(metrics)), metrics, strict=True):
        column.metric(label, value, help=help_text)
    if run.get("findings"):
        st.subheader("Findings")
        findings(run["findings"])
    caption = outcome.snippet_caption(run)
    if run.get("snippet") and caption:
        with st.expander("Code of this trial"):
            st.caption(caption)
            st.code(run["snippet"], language="python")


def log_panel(store: Store, run: dict[str, Any], events: pd.DataFrame) -> None:
    groups = run.get("log_groups")
    if not groups:
        from diagnostics.logs import group_logs  # live: group what has arrived so far

        gpus = (run.get("versions") or {}).get("gpus")
        groups = group_logs(store.logs(run["id"]), views.run.epoch_start_times(events), gpus=gpus)
    with st.expander(views.run.log_groups_caption(groups)):
        if not groups:
            st.caption("No output from the worker yet.")
            return
        st.dataframe(views.run.log_groups_table(groups), hide_index=True, width="stretch")
        t_ready = run.get("t_ready")
        if t_ready is not None and any(g.get("times") for g in groups):
            plot(charts.log_timeline_figure(groups, events, t_ready), key=f"logs_{run['id']}")
