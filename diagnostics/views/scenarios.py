"""The Scenarios page's text: the question as a plain-text option, the trials it plans, the trials
that ran (a rerun's epochs, not the plan's), and the run picker's labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["job_label", "plain", "plan_text", "question_option", "ran_text"]


def plain(text: str) -> str:
    """A question written with Markdown code spans (``Does `cache()` ...``) for plain-text places:
    widget options, which Streamlit shows as typed."""
    return str(text).replace("`", "")


def question_option(question: str, name: str) -> str:
    return f"{plain(question)}  ({name})"


def plan_text(trials: Sequence[tuple[str, Any]], autorange: bool) -> str:
    """Markdown: the trials a scenario will run, with the epochs each starts with."""
    text = "**Trials, one after another:** " + " · ".join(
        f"`{label}` ({config.loader}, {config.epochs} epochs)" for label, config in trials
    )
    if autorange:
        text += " — a trial too short to time runs again with more epochs."
    return text


def ran_text(
    result: Mapping[str, Any], runs: Mapping[int, Mapping[str, Any]], planned: Mapping[str, int]
) -> str:
    """Markdown: the trials that ran, each with its run and the epochs it ran (``planned``: the
    epochs each label starts with, so a rerun says so)."""
    parts = []
    for run_id, label in zip(result["run_ids"], result["labels"], strict=True):
        run = runs.get(run_id) or {}
        config = run.get("config") or {}
        epochs = config.get("epochs")
        text = f"`{label}` (#{run_id}, {config.get('loader') or '?'}, {epochs} epochs"
        first = planned.get(label)
        if epochs is not None and first is not None and epochs != first:
            text += f": rerun, {first} were too short to time"
        if run.get("status") and run.get("status") != "completed":
            text += f", {run['status']}"
        parts.append(text + ")")
    return "**Trials that ran:** " + " · ".join(parts)


def job_label(job: Mapping[str, Any]) -> str:
    """'cache · completed · 20261206-231005-abc123' for the run picker."""
    return f"{job['scenario']} · {job['status']} · {job['id']}"
