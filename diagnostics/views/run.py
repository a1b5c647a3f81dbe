"""The Run page's text and tables (also History's run view and the HTML report): status line,
progress, memory figure marks, headline numbers, logs, projection and the steps caption."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from diagnostics import throughput
from diagnostics.config import TrialConfig
from diagnostics.units import format_bytes, format_mib, format_rate, format_seconds
from diagnostics.views.common import (
    STATUS_ICONS,
    STATUS_TEXT,
    escape_markdown,
    leak_verdict_text,
    throughput_help,
)
from diagnostics.views.dataset import verification_state

__all__ = [
    "CANCEL_REQUESTED_TEXT",
    "epoch_start_times",
    "headline_captions",
    "headline_metrics",
    "log_group_rows",
    "log_groups_caption",
    "log_groups_table",
    "memory_figure_marks",
    "progress_state",
    "projection_table",
    "queue_text",
    "ready_rss_bytes",
    "skipped_files",
    "skipped_text",
    "status_markdown",
    "steps_default_caption",
    "verification_wait",
]

# Measured with scripts/cancel_latency.py (5 cancels each, during epoch 2): the run is recorded
# cancelled 0.25 s (FakeWorker) and 0.30 s (TensorFlow worker, max 0.31 s) after the request; the
# runner polls every 0.2 s. The Run view refreshes once a second on top of that.
CANCEL_REQUESTED_TEXT = (
    "Cancel requested: the runner checks every 0.2 s and kills the worker as soon as it sees it "
    "(measured: the run ends about 0.3 s after the request); this view shows it at its next "
    "refresh, within a second."
)


def status_markdown(run: Mapping[str, Any]) -> str:
    status = run["status"]
    return (
        f"{STATUS_ICONS.get(status, '')} **Run #{run['id']}** · {STATUS_TEXT.get(status, status)} · "
        f"`{run.get('loader')}` on `{run.get('dataset_path')}`"
    )


def queue_text(ahead: int) -> str:
    return (
        f"Waiting in the queue: {ahead} trial(s) ahead of this one." if ahead else "Next in line: starting…"
    )


def ready_rss_bytes(events: pd.DataFrame) -> float | None:
    """RSS reported by the worker's ready event (the baseline while a run is still live)."""
    ready = events[events["kind"] == "ready"] if not events.empty else events
    if ready.empty:
        return None
    return (ready["data"].iloc[0] or {}).get("rss_bytes")


def memory_figure_marks(run: Mapping[str, Any], events: pd.DataFrame) -> dict[str, Any]:
    """Keyword arguments of charts.memory_throughput_figure besides samples and events.

    A live run has no summary yet, so its baseline comes from the ready event and its budget
    from the run row or its config.
    """
    summary = run.get("summary") or {}
    config = run.get("config") or {}
    return {
        "t_ready": run.get("t_ready"),
        "baseline_bytes": summary.get("baseline_rss_bytes") or ready_rss_bytes(events),
        "budget_bytes": run.get("memory_budget_bytes")
        or config.get("memory_budget_bytes")
        or summary.get("memory_budget_bytes"),
        "peak_bytes": summary.get("peak_rss_bytes"),
    }


def progress_state(run: Mapping[str, Any], events: pd.DataFrame) -> tuple[float, str]:
    """(fraction done in 0..1, caption) of a live run, from its epoch_start and step events."""
    config = run.get("config") or {}
    epochs = int(config.get("epochs") or 1)
    steps = config.get("steps")
    if not steps:
        # No step limit: an epoch is the whole folder, so estimate its steps from the scan.
        images = (run.get("scan") or {}).get("num_images") or 0
        steps = max(1, math.ceil(images / int(config.get("batch_size") or 32))) if images else None
    if events.empty or not (events["kind"] == "ready").any():
        return 0.0, "Starting the worker (importing TensorFlow)…"
    epoch, step = 0, -1
    for row in events.itertuples():
        if row.kind == "epoch_start":
            epoch, step = int(row.data.get("epoch", 0)), -1
        elif row.kind == "step":
            epoch, step = int(row.data.get("epoch", 0)), int(row.data.get("step", 0))
    done_steps = step + 1
    fraction = (epoch + (done_steps / steps if steps else 0.0)) / epochs
    step_text = f"step {done_steps}/{steps}" if steps else f"step {done_steps}"
    return min(max(fraction, 0.0), 1.0), f"Epoch {epoch + 1}/{epochs} · {step_text}"


def headline_metrics(run: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, help) of the four headline numbers: peak, overhead, throughput, leak."""
    summary = run.get("summary") or {}
    peak = summary.get("peak_rss_bytes")
    baseline = summary.get("baseline_rss_bytes")
    overhead = summary.get("measured_overhead_bytes")
    if overhead is None and peak is not None and baseline is not None:
        overhead = peak - baseline
    rate = throughput.of_summary(summary)
    verdict, detail = leak_verdict_text(run)
    return [
        ("Peak RSS (VmHWM)", format_bytes(peak), "Highest resident memory of the worker, read from VmHWM."),
        (
            "Overhead over baseline",
            format_bytes(overhead, signed=True),
            f"Peak minus the RSS at ready (baseline {format_bytes(baseline)}).",
        ),
        ("Throughput", format_rate(rate["images_per_second"]), throughput_help(rate)),
        ("Leak verdict", _short_verdict(verdict), f"{verdict}. {detail}" if verdict != "n/a" else detail),
    ]


def _short_verdict(verdict: str) -> str:
    # "no leak +10.2 MiB/epoch" does not fit a metric tile: the word goes in the tile, the slope under it.
    return "no leak" if verdict.startswith("no leak") else verdict.split(" ")[0]


def headline_captions(run: Mapping[str, Any]) -> list[str]:
    """Small text under each headline metric: the throughput's range or why it is not stable, the
    leak slope (the tiles have room for a short value only)."""
    summary = run.get("summary") or {}
    rate_note = throughput.spread_note(throughput.of_summary(summary))
    slope = summary.get("leak_bytes_per_epoch")
    leak_note = "" if slope is None else f"{format_bytes(slope, signed=True)}/epoch"
    return ["", "", rate_note, leak_note]


def epoch_start_times(events: pd.DataFrame) -> list[float]:
    return events[events["kind"] == "epoch_start"]["t"].tolist() if not events.empty else []


def log_groups_caption(groups: Sequence[Mapping[str, Any]]) -> str:
    known = sum(1 for g in groups if g.get("known"))
    return (
        f"Log lines: {sum(g.get('count', 0) for g in groups)} in {len(groups)} groups "
        f"({known} known, {len(groups) - known} with no verified source)"
    )


def log_group_rows(groups: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per log template, most frequent first (the dashboard's table and the HTML report)."""
    return [
        {
            "count": g.get("count"),
            "level": f"expected here (logged as {g.get('level')})" if g.get("expected") else g.get("level"),
            "known": "known" if g.get("known") else "unknown",
            "source": g.get("source") or "–",
            "message": g.get("template"),
            "explanation": g.get("explanation") or "no verified source",
            "per epoch": ", ".join(str(n) for n in g.get("per_epoch") or []),
        }
        for g in sorted(groups, key=lambda g: -int(g.get("count") or 0))
    ]


def log_groups_table(groups: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(log_group_rows(groups))


def projection_table(projection: Mapping[str, Any]) -> pd.DataFrame:
    """'Projection to the full folder' as label/value rows, memory in MiB (never a bare null)."""
    cache = projection.get("cache_bytes")
    rows = [
        ("Images in the folder", f"{projection.get('full_dataset_images') or 0:,}"),
        ("Images the trial read per epoch", f"{projection.get('trial_images_per_epoch') or 0:,}"),
        (
            "In-memory cache, whole folder",
            format_mib(cache) if cache is not None else "– (no in-memory cache)",
        ),
        ("Peak overhead, whole folder", format_mib(projection.get("peak_overhead_bytes"))),
        ("How it was scaled", str(projection.get("note") or "–")),
    ]
    return pd.DataFrame(rows, columns=["", "value"])


def skipped_files(run: Mapping[str, Any]) -> tuple[int, list[dict[str, str]]]:
    """(how many, the stored ones with why) of the files in the run's folder its loader did not read.

    From the scan summary the run stored (no schema change): its unreadable files (a loader that
    cannot skip them is refused before the run, so every stored run skipped them) and the readable
    images this loader does not read (``loader_skipped``). Each list is capped at
    ``dataset.SUMMARY_CAP``; the totals say how many there were.
    """
    scan = run.get("scan") or {}
    unreadable = list(scan.get("bad_files") or [])
    unread = list(scan.get("loader_skipped") or [])
    total = int(scan.get("bad_files_total", len(unreadable)) or 0)
    total += int(scan.get("loader_skipped_total", len(unread)) or 0)
    return total, unreadable + unread


def skipped_text(run: Mapping[str, Any], shown: int = 5, *, markdown: bool = True) -> str | None:
    """'7 files skipped: broken/a.jpg (empty file (0 bytes)), ... and 2 more.', or None.

    ``markdown``: names and reasons through ``escape_markdown`` (the Run page); plain for the CLI.
    """
    total, files = skipped_files(run)
    if not total:
        return None
    quote = escape_markdown if markdown else str
    parts = [quote(f"{f.get('path')} ({f.get('reason')})") for f in files[:shown]]
    more = total - len(parts)
    return (
        f"{total:,} file{'s' if total != 1 else ''} skipped: "
        + ", ".join(parts)
        + (f" and {more:,} more" if more > 0 else "")
        + "."
    )


def verification_wait(run: Mapping[str, Any]) -> tuple[float, str] | None:
    """(fraction, caption) while a queued run waits for its folder's verification, else None.

    The runner creates such a run from the listing and stores ``scan_progress`` on it until the
    shared verification job ends; then it starts the worker.
    """
    progress = run.get("scan_progress") or {}
    if run.get("status") != "queued" or not progress or progress.get("finished"):
        return None
    fraction, text = verification_state(
        int(progress.get("done") or 0), int(progress.get("total") or 0), int(progress.get("bad") or 0), False
    )
    return fraction, f"Waiting for the folder's verification before starting the worker. {text}"


def steps_default_caption(num_images: int, config: TrialConfig, store: Any = None) -> str:
    """What an empty steps field means for this folder, and why, with the full-folder projection.

    The runner applies ``prepare.default_steps`` to a run without steps; this says the same in the
    UI's words. ``config.dataset`` must be the resolved folder (past runs are matched on it).
    """
    from diagnostics.prepare import default_steps

    batch_size = int(config.batch_size)
    _, reason = default_steps(num_images, config, store)
    rate = format_rate(reason.get("rate_images_per_second"))
    source = (
        "the median of past runs of this loader on this folder"
        if reason.get("rate_source") == "past runs"
        else "a conservative guess until a run of this loader on this folder completes"
    )
    images = int(reason.get("num_images") or 0)
    full = (
        f"the full folder ({images:,} images, {math.ceil(images / batch_size):,} steps) takes about "
        f"{format_seconds(reason.get('full_epoch_seconds'))} per epoch at {rate} ({source})"
    )
    steps = reason.get("steps")
    if steps:
        epoch = format_seconds(steps * batch_size / float(reason["rate_images_per_second"]))
        return (
            f"Empty = {steps:,} steps per epoch ({steps * batch_size:,} images, about {epoch} each), "
            f"sized so a 3-epoch trial takes about a minute; {full}. "
            "The results project memory to the full folder."
        )
    return f"Empty = whole epochs: {full}."
