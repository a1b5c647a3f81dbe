"""Display helpers shared by the dashboard pages and the HTML report (no Streamlit here).

Everything inside the library is bytes and seconds; these functions turn them into the human units
the pages show, and build the small tables (config differences, run labels) that more than one
view needs. The pages only read widgets, call these, and render: option specs, progress, headline
numbers, log and history tables are built here so they are unit-tested without Streamlit.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from diagnostics import analysis, throughput
from diagnostics.config import COLOR_MODES, INTERPOLATIONS, MODELS, MODES, TrialConfig
from diagnostics.status import ACTIVE_SWEEP_STATUSES
from diagnostics.units import format_bytes
from diagnostics.units import is_missing as _missing

__all__ = [
    "ACTIVE_STATUSES",
    "ACTIVE_SWEEP_STATUSES",
    "CANCEL_REQUESTED_TEXT",
    "FINISHED_STATUSES",
    "HISTORY_COLUMNS",
    "KIND_LABELS",
    "KNOB_CHOICES",
    "LIMIT_INPUTS",
    "NO_TFDATA_NOTE",
    "OPTION_CHOICES",
    "OPTION_DEFAULTS",
    "OPTION_SPECS",
    "STATUS_ICONS",
    "STATUS_TEXT",
    "SWEEP_CHOICES",
    "sweep_plan",
    "WAIT_FOR_VERIFICATION",
    "applicable_specs",
    "attribution_caption",
    "attribution_components",
    "attribution_rows",
    "bound_sentence",
    "bad_files_text",
    "changed_options",
    "compare_row",
    "config_diff",
    "differing_options",
    "decoded_caption",
    "default_folder",
    "epoch_start_times",
    "epochs_frame",
    "filter_runs",
    "finding_markdown",
    "folder_choices",
    "format_bytes",
    "format_mib",
    "format_rate",
    "format_seconds",
    "format_value",
    "grid_values",
    "headline_captions",
    "headline_metrics",
    "throughput_help",
    "history_table",
    "in_rows",
    "knob_value",
    "last_folder",
    "leak_verdict_text",
    "limit_overrides",
    "listing_caption",
    "listing_images",
    "log_groups_caption",
    "log_group_rows",
    "log_groups_table",
    "memory_figure_marks",
    "mib",
    "option_value",
    "option_widget_spec",
    "progress_state",
    "projection_table",
    "queue_text",
    "queue_view",
    "live_run",
    "live_sweep",
    "stored_sweeps",
    "trials_ahead_text",
    "ready_rss_bytes",
    "remember_folder",
    "run_choices",
    "run_label",
    "scan_summary_rows",
    "sorted_findings",
    "stage_rows",
    "status_markdown",
    "steps_default_caption",
    "sweep_labels",
    "sweep_points_frame",
    "sweep_trials_table",
    "top_components_text",
    "xray_frames",
    "verification_state",
    "verification_wait",
]

MIB = 1024 * 1024
ACTIVE_STATUSES = frozenset({"queued", "running"})
FINISHED_STATUSES = frozenset(
    {"completed", "failed", "killed_budget", "timed_out", "cancelled", "interrupted"}
)
STATUS_ICONS = {
    "queued": ":material/hourglass_top:",
    "running": ":material/play_arrow:",
    "completed": ":material/check_circle:",
    "failed": ":material/cancel:",
    "killed_budget": ":material/block:",
    "timed_out": ":material/timer_off:",
    "cancelled": ":material/stop_circle:",
    "interrupted": ":material/warning:",
}
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def mib(value_bytes: float | None) -> float | None:
    return None if _missing(value_bytes) else float(value_bytes) / MIB


def format_seconds(value_seconds: float | None) -> str:
    if _missing(value_seconds):
        return "–"
    value = float(value_seconds)
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_rate(images_per_second: float | None) -> str:
    if _missing(images_per_second):
        return "–"
    value = float(images_per_second)
    return f"{value:,.0f} img/s" if value >= 100 else f"{value:.1f} img/s"


def run_label(run: Mapping[str, Any]) -> str:
    """'#12 keras_directory · cache=memory' from a get_run() dict or a list_runs() row."""
    config = run.get("config") or {}
    loader = run.get("loader") or config.get("loader") or "?"
    label = f"#{run.get('id')} {loader}"
    changed = _short_changes(config)
    return f"{label} · {changed}" if changed else label


def _short_changes(config: Mapping[str, Any]) -> str:
    # The two or three options people sweep most, so labels in legends stay short but telling.
    parts = []
    for key in ("batch_size", "cache", "prefetch", "dtype", "mode"):
        if key not in config:
            continue
        default = {
            "batch_size": 32,
            "cache": "none",
            "prefetch": "none",
            "dtype": "float32",
            "mode": "iterate",
        }
        if config[key] != default[key]:
            parts.append(f"{key}={config[key]}")
    return ", ".join(parts[:3])


def config_diff(configs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Options as rows, runs as columns, plus a boolean ``differs`` column.

    ``configs`` maps a run label to its config dict. Options equal across all runs are kept (the
    table shows the whole configuration) but sorted after the ones that differ.
    """
    labels = list(configs)
    keys: list[str] = []
    for config in configs.values():
        for key in config:
            if key not in keys and key != "extra":
                keys.append(key)
    rows = []
    for key in keys:
        values = [format_value(configs[label].get(key)) for label in labels]
        rows.append(
            {"option": key, **dict(zip(labels, values, strict=True)), "differs": len(set(values)) > 1}
        )
    frame = pd.DataFrame(rows, columns=["option", *labels, "differs"])
    if frame.empty:
        return frame
    frame = frame.sort_values("differs", ascending=False, kind="stable").reset_index(drop=True)
    return frame


def format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " × ".join(str(v) for v in value)
    return "–" if value is None else str(value)


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


def sorted_findings(findings: Iterable[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    return sorted(findings or [], key=lambda f: SEVERITY_ORDER.get(f.get("severity", "info"), 3))


def scan_summary_rows(scan: Any) -> list[tuple[str, str]]:
    """(label, value) pairs summarising a ScanResult (or its dict) for a compact table."""
    data = scan.to_dict() if hasattr(scan, "to_dict") else dict(scan)
    counts = data.get("counts") or {}
    sizes = data.get("sizes") or []
    rows = [
        ("Folder", str(data.get("root", "?"))),
        ("Classes", f"{len(data.get('classes') or counts)}"),
        ("Readable images", f"{data.get('num_images', 0):,}"),
        ("Unreadable files", f"{len(data.get('bad_files') or [])}"),
        ("Formats", ", ".join(f"{k} {v}" for k, v in sorted((data.get("formats") or {}).items())) or "–"),
        (
            "Channel modes",
            ", ".join(f"{k} {v}" for k, v in sorted((data.get("channel_modes") or {}).items())) or "–",
        ),
    ]
    if sizes:
        widths = [w for w, _ in sizes]
        heights = [h for _, h in sizes]
        rows.append(("Pixel sizes", f"{min(widths)}–{max(widths)} × {min(heights)}–{max(heights)} px"))
    if data.get("decoded_bytes_per_image"):
        per_image = int(data["decoded_bytes_per_image"])
        rows.append(("Decoded per image", format_bytes(per_image)))
        rows.append(("Decoded, whole folder", format_bytes(per_image * int(data.get("num_images", 0)))))
    return rows


# Trial options as the forms show them -------------------------------------------------------
# (field, kind, label, help). Kinds: select (choices), knob (none/auto/N), int, opt_int (empty =
# None), opt_float, bool. The Run and Sweep forms render only COMMON_OPTIONS | loader.options.
KNOB_CHOICES = ("none", "auto", "1", "2", "4", "8", "16")
OPTION_SPECS: tuple[tuple[str, str, str, str], ...] = (
    ("batch_size", "int", "Batch size", "Images per batch."),
    ("color_mode", "select", "Color mode", "rgb: 3 channels; grayscale: 1 channel (a third of the bytes)."),
    ("interpolation", "select", "Interpolation", "Resize method used when decoding to the image size."),
    (
        "cache",
        "select",
        "Cache",
        "memory: keep every decoded image in RAM after epoch 1; file: cache on disk.",
    ),
    ("prefetch", "knob", "Prefetch", "Batches prepared ahead of the consumer; auto lets tf.data tune it."),
    (
        "num_parallel_calls",
        "knob",
        "Parallel calls",
        "Images decoded at once by map(); auto lets tf.data tune it.",
    ),
    ("dtype", "select", "Dtype", "Element type of the images handed to the model."),
    ("augmentation", "select", "Augmentation", "Random flips/rotations applied per image."),
    ("shuffle", "bool", "Shuffle", "Shuffle the file order every epoch."),
    (
        "shuffle_buffer",
        "opt_int",
        "Shuffle buffer",
        "Elements held by shuffle(); empty = the loader's default.",
    ),
    ("seed", "int", "Seed", "Random seed for shuffling and augmentation."),
    (
        "keep_decoded",
        "bool",
        "Keep decoded tensors",
        "Append every decoded image to a Python list (the classic accidental growth).",
    ),
    (
        "rescale",
        "opt_float",
        "Rescale",
        "Multiply pixels by this factor (e.g. 0.00392 for 1/255); empty = none.",
    ),
    ("validation_split", "opt_float", "Validation split", "Fraction held out for validation; empty = none."),
    (
        "close_and_collect",
        "bool",
        "Close and collect",
        "Close the iterator and call gc.collect() after each epoch.",
    ),
    ("workers", "int", "Workers", "PyDataset worker threads or processes."),
    (
        "use_multiprocessing",
        "bool",
        "Use multiprocessing",
        "Workers are processes (each with its own memory).",
    ),
    ("max_queue_size", "int", "Max queue size", "Batches queued by the PyDataset workers."),
    ("via_tf_data", "bool", "Via tf.data", "Wrap the generator in tf.data.Dataset.from_generator."),
)
# Options a sweep grid can vary, with the values offered by default.
SWEEP_CHOICES: dict[str, tuple[Any, ...]] = {
    "loader": (),  # filled by the page from LOADER_NAMES
    "batch_size": (16, 32, 64, 128),
    "cache": ("none", "memory", "file"),
    "prefetch": ("none", "auto", 1, 2, 4),
    "num_parallel_calls": ("none", "auto", 2, 4),
    "dtype": ("float32", "float16", "uint8"),
    "image_size": ((64, 64), (128, 128), (224, 224)),
}


def knob_value(text: str) -> str | int:
    return int(text) if str(text).isdigit() else str(text)


def applicable_specs(loader_options: Iterable[str]) -> list[tuple[str, str, str, str]]:
    """The OPTION_SPECS rows a loader accepts (batch size and color mode are common to all)."""
    wanted = set(loader_options) | {"batch_size", "color_mode"}
    return [spec for spec in OPTION_SPECS if spec[0] in wanted]


# Forms: option widgets and limits -----------------------------------------------------------
OPTION_DEFAULTS = TrialConfig(dataset="")
OPTION_CHOICES: dict[str, tuple[str, ...]] = {
    "mode": MODES,
    "model": MODELS,
    "cache": ("none", "memory", "file"),
    "dtype": ("float32", "float16", "uint8"),
    "augmentation": ("none", "light", "heavy"),
    "color_mode": COLOR_MODES,
    "interpolation": INTERPOLATIONS,
}


def option_widget_spec(name: str, kind: str) -> tuple[str, dict[str, Any]]:
    """Which Streamlit widget shows this option and its arguments besides label, help and key.

    Returns (widget name: selectbox, checkbox or number_input, keyword arguments); the page
    calls the widget and hands its raw value to ``option_value``.
    """
    default = getattr(OPTION_DEFAULTS, name)
    if kind == "select":
        choices = list(OPTION_CHOICES[name])
        return "selectbox", {"options": choices, "index": choices.index(default)}
    if kind == "knob":
        choices = list(KNOB_CHOICES)
        return "selectbox", {"options": choices, "index": choices.index(str(default))}
    if kind == "bool":
        return "checkbox", {"value": default}
    if kind == "int":
        # A seed of 0 is meaningful; every other integer option counts something.
        return "number_input", {"min_value": 0 if name == "seed" else 1, "value": default, "step": 1}
    if kind == "opt_int":
        return "number_input", {"min_value": 1, "value": default, "step": 1}
    if kind == "opt_float":
        return "number_input", {"min_value": 0.0, "value": default, "format": "%.5f"}
    raise ValueError(f"unknown option kind {kind!r}")


def option_value(kind: str, raw: Any) -> Any:
    """The TrialConfig value of a widget's raw value (number inputs return floats, knobs text)."""
    if kind == "knob":
        return knob_value(raw)
    if kind == "int":
        return int(raw)
    if kind == "opt_int":
        return None if raw is None else int(raw)
    return raw


def changed_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """Only the options that differ from TrialConfig's defaults (what the run actually changes)."""
    return {k: v for k, v in values.items() if v != getattr(OPTION_DEFAULTS, k)}


def in_rows(items: Sequence[Any], per_row: int) -> list[Sequence[Any]]:
    """Split items into rows of ``per_row`` (the last row may be shorter)."""
    return [items[start : start + per_row] for start in range(0, len(items), per_row)]


# The limits form's widgets; labels and allowed ranges are form.NUMBER_FIELDS' (no min/max here).
LIMIT_INPUTS: dict[str, dict[str, Any]] = {
    "budget": {
        "step": 256,
        "help": "The worker's whole process tree is killed when its RSS crosses this. "
        "Empty = 80% of available RAM.",
    },
    "timeout": {"step": 30, "help": "Empty = no time limit."},
}


def limit_overrides(budget_mib: float | None, timeout_s: float | None) -> dict[str, Any]:
    """TrialConfig fields for the limits form; empty inputs keep the defaults (80% of RAM, none)."""
    out: dict[str, Any] = {}
    if budget_mib:
        out["memory_budget_bytes"] = int(budget_mib) * MIB
    if timeout_s:
        out["timeout_seconds"] = float(timeout_s)
    return out


def run_choices(runs: pd.DataFrame, statuses: Iterable[str] | None = None) -> dict[int, str]:
    """{run id: label} in the order of ``runs`` (list_runs: newest first), for pickers."""
    if statuses is not None:
        runs = runs[runs["status"].isin(tuple(statuses))]
    return {
        int(r.id): f"#{r.id} {r.loader} · {Path(str(r.dataset_path)).name} · {r.status} · {r.created}"
        for r in runs.itertuples()
    }


# One run: status, progress, headline, findings, logs -----------------------------------------
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


def trials_ahead_text(ahead: int) -> str:
    return "next in line" if ahead <= 0 else f"{ahead} trial{'s' if ahead != 1 else ''} ahead"


def live_run(store: Any, run_id: int) -> dict[str, Any]:
    """``store.get_run`` for a page about to show the run as live: a queued or running run whose
    runner process has died (killed, even by SIGKILL) is closed first, so it reads as interrupted."""
    run = store.get_run(run_id)
    if run["status"] in ACTIVE_STATUSES:
        from diagnostics.runner import recover_interrupted

        if run_id in recover_interrupted(store):
            run = store.get_run(run_id)
    return run


def live_sweep(store: Any, sweep_id: int) -> dict[str, Any]:
    """``store.get_sweep`` for a page about to show the sweep: a created or running sweep whose
    process has died (killed, even by SIGKILL) is closed first, so it reads as interrupted, with
    the trials it finished kept (``runner.recover_interrupted``)."""
    sweep = store.get_sweep(sweep_id)
    if sweep["status"] in ACTIVE_SWEEP_STATUSES:
        from diagnostics.runner import recover_interrupted

        recover_interrupted(store)
        sweep = store.get_sweep(sweep_id)
    return sweep


def stored_sweeps(store: Any) -> pd.DataFrame:
    """``store.list_sweeps`` for a picker: sweeps whose process died are closed first."""
    sweeps = store.list_sweeps()
    if sweeps["status"].isin(ACTIVE_SWEEP_STATUSES).any():
        from diagnostics.runner import recover_interrupted

        recover_interrupted(store)
        sweeps = store.list_sweeps()
    return sweeps


def queue_view(store: Any) -> list[tuple[str, str]]:
    """(icon, text) lines of what the store's trials are doing now: the sidebar's queue.

    Runs whose runner died are closed first (``recover_interrupted``); the running trial says
    whether its worker is still importing TensorFlow, a queued one how many trials are ahead
    (as ``store.queue_position``), and sweeps and scenarios in progress say how far they are.
    """
    from diagnostics.runner import recover_interrupted

    recover_interrupted(store)  # runs, then sweeps whose process died
    lines: list[tuple[str, str]] = []
    active = store.runs(ACTIVE_STATUSES, columns=("id", "status", "loader", "t_ready"))
    for ahead, run in enumerate(active):
        if run["status"] == "running":
            doing = (
                "running" if run.get("t_ready") is not None else "starting the worker (importing TensorFlow)"
            )
        else:
            doing = f"queued, {trials_ahead_text(ahead)}"
        lines.append((STATUS_ICONS[run["status"]], f"#{run['id']} {run.get('loader')}: {doing}"))
    sweeps = store.list_sweeps()
    for row in sweeps[sweeps["status"] == "running"].itertuples():
        sweep = store.get_sweep(int(row.id))
        statuses = list(store.list_runs(sweep_id=int(row.id))["status"])
        total = (sweep.get("summary") or {}).get("trials") or "?"
        done = sum(1 for s in statuses if s not in ACTIVE_STATUSES)
        lines.append((":material/science:", f"Sweep #{row.id} {row.name}: {done} of {total} trials done"))
    from diagnostics import scenarios

    for job in scenarios.list_jobs(store):
        if job.get("status") == "running":
            text = (
                f"Scenario {job.get('scenario')}: {job.get('done', 0)} of {job.get('total', '?')} trials done"
            )
            lines.append((":material/target:", text))
    return lines or [("", "No trial running.")]


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


def leak_verdict_text(run: Mapping[str, Any]) -> tuple[str, str]:
    """(short verdict such as 'no leak +1.2 MiB/epoch', explanation with the noise band)."""
    summary = run.get("summary") or {}
    slope = summary.get("leak_bytes_per_epoch")
    leak = summary.get("leak") or {}
    reason = leak.get("reason") or leak.get("detail") or ""
    if slope is None:
        return "n/a", reason or "Needs at least 3 epochs."
    grows = leak.get("growing", any(f.get("id") == "memory_growth" for f in run.get("findings") or []))
    label = f"{'growing' if grows else 'no leak'} {format_bytes(slope, signed=True)}/epoch"
    noise = leak.get("noise_band_bytes_per_epoch")
    band = f" Noise band ±{format_bytes(noise)}/epoch." if noise is not None else ""
    return label, (reason or "Least-squares slope of epoch-end RSS over epochs 2..N.") + "." + band


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


def finding_markdown(finding: Mapping[str, Any]) -> str:
    text = f"**{finding.get('title', finding.get('id'))}**  \n{finding.get('detail', '')}"
    if finding.get("advice"):
        text += f"  \n→ {finding['advice']}"
    return text


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
            "level": g.get("level"),
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


# History and Sweep tables --------------------------------------------------------------------
HISTORY_COLUMNS = [
    "id",
    "created",
    "status",
    "dataset_path",
    "loader",
    "mode",
    "peak_mib",
    "baseline_mib",
    "images_per_second",
    "leak_mib_per_epoch",
    "sweep_id",
    "error",
]


def filter_runs(
    runs: pd.DataFrame, statuses: Sequence[str] = (), loaders: Sequence[str] = (), text: str = ""
) -> pd.DataFrame:
    """Rows of list_runs() matching the History filters; an empty filter keeps everything."""
    if statuses:
        runs = runs[runs["status"].isin(statuses)]
    if loaders:
        runs = runs[runs["loader"].isin(loaders)]
    if text:
        runs = runs[runs["dataset_path"].fillna("").str.contains(text, case=False, regex=False)]
    return runs


def history_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The History table: list_runs() rows with memory in MiB, in HISTORY_COLUMNS order, plus
    (after ``mode``) the option columns whose values differ between the rows shown."""
    table = runs.assign(
        peak_mib=runs["peak_rss_bytes"].map(mib),
        baseline_mib=runs["baseline_rss_bytes"].map(mib),
        leak_mib_per_epoch=runs["leak_bytes_per_epoch"].map(mib),
    )
    options = [c for c in differing_options(runs) if c in table.columns]
    at = HISTORY_COLUMNS.index("mode") + 1
    return table[[*HISTORY_COLUMNS[:at], *options, *HISTORY_COLUMNS[at:]]]


def differing_options(runs: pd.DataFrame) -> list[str]:
    """Option columns of list_runs() that do not hold one value in every row."""
    from diagnostics.store import OPTION_COLUMNS

    return [c for c in OPTION_COLUMNS if c in runs.columns and runs[c].astype(str).nunique() > 1]


def sweep_plan(
    store: Any,
    grid: Mapping[str, list[Any]],
    *,
    dataset: str,
    loader: str,
    epochs: Any,
    steps: Any,
    side: Any,
    limits: Mapping[str, Any],
) -> tuple[TrialConfig, list[TrialConfig], list[dict[str, Any]], float]:
    """The Sweep form's values (already checked by ``form.problems``) as (base config, the grid's
    trials (none without a grid), the combinations a loader refuses, estimated seconds in a row)."""
    from diagnostics import sweep  # late: ui is imported by every page, sweep only by this one

    base = TrialConfig(
        dataset=dataset,
        loader=loader,
        epochs=int(epochs),
        steps=int(steps) if steps else None,
        image_size=(int(side), int(side)),
        **limits,
    )
    invalid: list[dict[str, Any]] = []
    trials = sweep.expand(base, dict(grid), invalid=invalid) if grid else []
    return base, trials, invalid, sweep.estimate_seconds(trials, store) if trials else 0.0


def grid_values(picked: Iterable[Any]) -> list[Any]:
    """Multiselect picks as a sweep grid's values; image sizes become lists, as JSON keeps them."""
    return [list(v) if isinstance(v, tuple) else v for v in picked]


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


def throughput_help(rate: Mapping[str, Any]) -> str:
    """Help text of a throughput figure: its definition, range and whether it is stable."""
    text = throughput.DEFINITION
    if rate.get("min") is not None and len(rate.get("epochs_used") or []) > 1:
        text += f" This run: {format_rate(rate['min'])} to {format_rate(rate['max'])} over epochs {rate['epochs_used']}."
    if rate.get("images_per_second") is not None and not rate.get("stable"):
        text += f" Not stable: {rate['reason']}."
    return text


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


def format_mib(value_bytes: float | None) -> str:
    return "–" if _missing(value_bytes) else f"{float(value_bytes) / MIB:,.1f} MiB"


# Pipeline X-ray: attribution and stages (issue 11) ----------------------------------------------
KIND_LABELS = {
    "tfdata_stage": "tf.data stage",
    "model": "model weights",
    "optimizer": "optimizer state",
    "allocator_free": "allocator: freed, kept",
    "library": "library/code pages",
    "other": "other",
}
NO_TFDATA_NOTE = analysis.attribution.NO_TFDATA_NOTE  # one wording, the analysis' own


def _share(part: float | None, whole: float | None) -> str:
    if _missing(part) or _missing(whole) or not whole:
        return "–"
    return f"{100.0 * float(part) / float(whole):.0f}%"


def attribution_components(attribution: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The components, largest first, then "unattributed" always last (never dropped)."""
    if not attribution:
        return []
    named = [c for c in attribution.get("components") or [] if c.get("name") != "unattributed"]
    named.sort(key=lambda c: -float(c.get("bytes") or 0))
    rest = attribution.get("unattributed_bytes")
    if rest is None:
        rest = next(
            (c.get("bytes") for c in attribution.get("components") or [] if c.get("name") == "unattributed"),
            None,
        )
    return [
        *named,
        {
            "name": "unattributed",
            "kind": "other",
            "bytes": rest,
            # What the composition tells of the remainder (heap in use, memory outside malloc).
            "detail": (attribution.get("unattributed_split") or {}).get("detail")
            or "not explained by the parts above",
        },
    ]


def attribution_rows(attribution: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per component at the peak: component, kind, MiB, share of the overhead, source."""
    overhead = (attribution or {}).get("overhead_bytes")
    return [
        {
            "component": c.get("name"),
            "kind": KIND_LABELS.get(c.get("kind"), c.get("kind") or "other"),
            "MiB": None if _missing(c.get("bytes")) else round(float(c["bytes"]) / MIB, 1),
            "share of overhead": _share(c.get("bytes"), overhead),
            "how it was measured": c.get("detail") or "–",
        }
        for c in attribution_components(attribution)
    ]


def attribution_caption(attribution: Mapping[str, Any] | None) -> str:
    """What the table splits, and an unexplained or over-explained remainder said plainly."""
    if not attribution:
        return "No attribution for this run (it predates the probe, or no probe snapshot arrived)."
    overhead = attribution.get("overhead_bytes")
    rest = attribution_components(attribution)[-1]["bytes"]
    at = "the peak" if attribution.get("at", "peak") == "peak" else str(attribution.get("at"))
    text = f"Overhead over baseline at {at}: {format_bytes(overhead, signed=True)}."
    if attribution.get("note"):
        text += f" {_share(rest, overhead)} of it is unattributed."
    elif not _missing(rest) and float(rest) < 0:
        text += (
            f" The measured parts exceed it by {format_bytes(-float(rest))}: some of them are counted "
            "twice or were measured at another moment."
        )
    else:
        text += f" {_share(rest, overhead)} of it is unattributed."
    # The stage section says "needs tf.data" in its own box; the caption keeps the other notes.
    note = str(attribution.get("note") or "").replace(NO_TFDATA_NOTE, "").strip()
    return text + (f" {note}" if note else "")


def top_components_text(attribution: Mapping[str, Any] | None, n: int = 3) -> str:
    """'in-memory cache 200.0 MiB (67%), …; unattributed 16.0 MiB (5%)' for Compare and the report."""
    if not attribution:
        return "–"
    components = attribution_components(attribution)
    overhead = attribution.get("overhead_bytes")
    parts = [
        f"{c['name']} {format_bytes(c.get('bytes'))} ({_share(c.get('bytes'), overhead)})"
        for c in components[:-1][:n]
    ]
    rest = components[-1]
    return (
        ", ".join(parts)
        + f"; unattributed {format_bytes(rest.get('bytes'))} ({_share(rest.get('bytes'), overhead)})"
    )


def _autotune_text(values: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (values or {}).items()) or "–"


def _now_and_peak(now: Any, peak: Any) -> str:
    now_text = "–" if _missing(now) else f"{int(now):,}"
    return now_text if _missing(peak) else f"{now_text} / {int(peak):,}"


def stage_rows(pipeline: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The stage table: stage, your code, buffered MiB now/peak, elements, AUTOTUNE, share of time.

    "now" is the last snapshot (a shuffle buffer drains at the end of the data); "own rate" is the
    stage's images/s from its processing time, the figure the bottleneck is chosen by.
    """
    rows = []
    # The summary lists stages from the output back to the source; the table reads like the code.
    for stage in reversed((pipeline or {}).get("stages") or []):
        share = stage.get("time_share")
        rows.append(
            {
                "stage": stage.get("label") or stage.get("name"),
                "buffered now (MiB)": mib(stage.get("buffered_bytes")),
                "buffered peak (MiB)": mib(stage.get("peak_buffered_bytes")),
                "elements now / peak": _now_and_peak(
                    stage.get("buffered_elements"), stage.get("peak_buffered_elements")
                ),
                "own rate": format_rate(stage.get("images_per_second")),
                "AUTOTUNE": _autotune_text(stage.get("autotune")),
                "share of time": "–" if _missing(share) else f"{100.0 * float(share):.0f}%",
                # Last: code lines are long, the numbers stay in view.
                "your code": stage.get("code") or "–",
            }
        )
    return rows


def bound_sentence(summary: Mapping[str, Any] | None) -> str:
    """The bottleneck stage and, in fit mode, whether training waits for input or for compute."""
    pipeline = (summary or {}).get("pipeline")
    if not pipeline:
        return NO_TFDATA_NOTE
    sentences = []
    bottleneck = pipeline.get("bottleneck")
    if bottleneck and bottleneck.get("stage"):
        rate = bottleneck.get("images_per_second")
        sentences.append(
            f"The slowest stage is **{bottleneck['stage']}**"
            + (f", at {format_rate(rate)} on its own" if not _missing(rate) else "")
            + ": it bounds the pipeline's throughput."
        )
    bound = pipeline.get("bound") or {}
    if bound.get("kind") in ("input", "compute"):
        what = "input-bound" if bound["kind"] == "input" else "compute-bound"
        # The detail may end by naming the verdict again (": input-bound"); say it once.
        detail = re.sub(r"[:;,]?\s*(input|compute)-bound\.?$", "", str(bound.get("detail") or ""))
        sentences.append(f"Training is **{what}**" + (f": {detail}." if detail else "."))
    elif bound.get("detail"):
        sentences.append(bound["detail"][:1].upper() + bound["detail"][1:] + ".")
    if pipeline.get("note"):
        sentences.append(str(pipeline["note"]))
    return " ".join(sentences) or "No stage stands out as the bottleneck."


def xray_frames(store: Any, run: Mapping[str, Any], samples: pd.DataFrame, events: pd.DataFrame):
    """(attribution frame, AUTOTUNE frame) of a run, live or finished, from the store's probe tables.

    The one place the views reach the analysis' frame builders, so the Run page, History and the
    HTML report draw the same thing.
    """
    pipeline = store.pipeline(run["id"])
    composition = store.composition(run["id"])
    config = run.get("config") or {}
    return (
        analysis.attribution_frame(run, samples, events, pipeline, composition),
        # The snippet and batch size name the stages as the summary's table does.
        analysis.autotune_frame(pipeline, snippet=run.get("snippet"), batch_size=config.get("batch_size")),
    )


# Dataset folders: default, listing, verification ----------------------------------------------
LAST_FOLDER_FILE = "last_folder"


def last_folder(home: str | os.PathLike[str]) -> str | None:
    """The folder this DIAG_HOME's dashboard last listed ($DIAG_HOME/last_folder), if any."""
    try:
        text = (Path(home) / LAST_FOLDER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def remember_folder(home: str | os.PathLike[str], folder: str) -> None:
    """Record the folder picked last, so the next session starts on it instead of scanning a root."""
    if last_folder(home) == folder:
        return
    path = Path(home) / LAST_FOLDER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two sessions may write at once: each renames its own temporary file into place.
    temporary = path.with_name(f".{LAST_FOLDER_FILE}.{os.getpid()}")
    temporary.write_text(folder + "\n", encoding="utf-8")
    os.replace(temporary, path)


def default_folder(last: str | None, roots: Sequence[str], sample_data: str) -> str | None:
    """The folder a new session starts on: the last one used, else sample_data, else none.

    Never an allowed root itself (a root is where datasets live, so listing it lists everything
    under it), except sample_data, which is a small dataset; nor a folder that is gone or lies
    outside the roots now.
    """
    from diagnostics.dataset import resolve_dataset
    from diagnostics.errors import DatasetError

    real_roots = {os.path.realpath(r) for r in roots}
    for candidate in (last, sample_data):
        if not candidate or not os.path.isdir(candidate):
            continue
        try:
            real = str(resolve_dataset(candidate, [Path(r) for r in roots]))
        except DatasetError:
            continue
        if real not in real_roots or os.path.realpath(sample_data) == real:
            return candidate
    return None


def folder_choices(default: str | None, datasets: Iterable[str]) -> list[str]:
    """The folder picker's entries: the default first, then the datasets found under the roots."""
    out = [default] if default else []
    for folder in datasets:
        if os.path.realpath(folder) not in {os.path.realpath(f) for f in out}:
            out.append(folder)
    return out


def _field(data: Any, name: str, default: Any = None) -> Any:
    return data.get(name, default) if isinstance(data, Mapping) else getattr(data, name, default)


def listing_images(listing: Any) -> int:
    """Image files the listing counted in class folders (before content verification)."""
    return sum((_field(listing, "counts") or {}).values())


def listing_caption(listing: Any) -> str:
    """One line on a folder's listing: images per class, bytes on disk and extensions.

    ``listing`` is a dataset.Listing or its summary dict (names and sizes, no file opened).
    """
    counts = _field(listing, "counts") or {}
    shown = ", ".join(f"{name} {n:,}" for name, n in list(counts.items())[:6])
    if len(counts) > 6:
        shown += f", … {len(counts) - 6} more"
    extensions = ", ".join(
        f"{ext} {n:,}"
        for ext, n in sorted((_field(listing, "extensions") or {}).items(), key=lambda kv: -kv[1])
    )
    return (
        f"{listing_images(listing):,} images in {len(counts)} classes ({shown}); "
        f"{format_bytes(_field(listing, 'total_bytes'))} on disk ({extensions or 'no image files'})."
    )


def decoded_caption(bytes_per_image: int, images: int) -> str:
    """Decoded size per image and for the folder: arithmetic, so option changes never rescan."""
    return (
        f"Decoded {format_bytes(bytes_per_image)} per image, "
        f"{format_bytes(bytes_per_image * images)} for the folder (what cache() in memory would hold)."
    )


def verification_state(
    done: int, total: int, bad_so_far: int, finished: bool, error: str | None = None
) -> tuple[float, str]:
    """(fraction in 0..1, caption) of a folder's content verification."""
    if error:
        return 1.0, f"Verification failed: {error}"
    bad = f"{bad_so_far:,} unreadable" if bad_so_far else "none unreadable"
    if finished:
        return 1.0, f"Verified {total:,} files: {bad}."
    fraction = done / total if total else 0.0
    return min(max(fraction, 0.0), 1.0), (
        f"Verifying file contents: {done:,} / {total:,} ({fraction:.0%}) · {bad} so far."
    )


WAIT_FOR_VERIFICATION = (
    ":material/hourglass_top: A trial started now waits for verification to end (its progress shows "
    "on the run), then skips the unreadable files found, or stops naming them if its loader cannot."
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

    The runner applies ``runner.default_steps`` to a run without steps; this says the same in the
    UI's words. ``config.dataset`` must be the resolved folder (past runs are matched on it).
    """
    from diagnostics.runner import default_steps

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


def bad_files_text(bad_files: Sequence[Mapping[str, str]], shown: int = 3) -> str:
    """'a.gif (format GIF ...), b.jpg (empty file) and 5 more' for a one-line mention."""
    parts = [f"{b.get('path')} ({b.get('reason')})" for b in bad_files[:shown]]
    more = len(bad_files) - shown
    return ", ".join(parts) + (f" and {more:,} more" if more > 0 else "")
