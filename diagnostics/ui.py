"""Display helpers shared by the dashboard pages and the HTML report (no Streamlit here).

Everything inside the library is bytes and seconds; these functions turn them into the human units
the pages show, and build the small tables (config differences, run labels) that more than one
view needs. The pages only read widgets, call these, and render: option specs, progress, headline
numbers, log and history tables are built here so they are unit-tested without Streamlit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from diagnostics.config import COLOR_MODES, INTERPOLATIONS, MODELS, MODES, TrialConfig

__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "HISTORY_COLUMNS",
    "KNOB_CHOICES",
    "LIMIT_INPUTS",
    "OPTION_CHOICES",
    "OPTION_DEFAULTS",
    "OPTION_SPECS",
    "STATUS_ICONS",
    "STATUS_TEXT",
    "SWEEP_CHOICES",
    "applicable_specs",
    "changed_options",
    "config_diff",
    "epoch_start_times",
    "epochs_frame",
    "filter_runs",
    "finding_markdown",
    "format_bytes",
    "format_rate",
    "format_seconds",
    "format_value",
    "grid_values",
    "headline_metrics",
    "history_table",
    "in_rows",
    "knob_value",
    "leak_verdict_text",
    "limit_overrides",
    "log_groups_caption",
    "log_group_rows",
    "log_groups_table",
    "memory_figure_marks",
    "mib",
    "option_value",
    "option_widget_spec",
    "progress_state",
    "queue_text",
    "ready_rss_bytes",
    "run_choices",
    "run_label",
    "scan_summary_rows",
    "sorted_findings",
    "status_markdown",
    "suggested_folders",
    "sweep_labels",
    "sweep_points_frame",
    "sweep_trials_table",
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


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def mib(value_bytes: float | None) -> float | None:
    return None if _missing(value_bytes) else float(value_bytes) / MIB


def format_bytes(value_bytes: float | None, *, signed: bool = False) -> str:
    """1536 -> '1.5 KiB'; None -> '–'. ``signed`` adds '+' to positive values (deltas)."""
    if _missing(value_bytes):
        return "–"
    value = float(value_bytes)
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    value = abs(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            text = f"{value:.0f}" if unit == "B" else f"{value:.1f}"
            return f"{sign}{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


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


LIMIT_INPUTS: dict[str, dict[str, Any]] = {
    "budget": {
        "label": "Memory budget (MiB)",
        "min_value": 64,
        "step": 256,
        "help": "The worker's whole process tree is killed when its RSS crosses this. "
        "Empty = 80% of available RAM.",
    },
    "timeout": {"label": "Timeout (s)", "min_value": 1, "step": 30, "help": "Empty = no time limit."},
}


def limit_overrides(budget_mib: float | None, timeout_s: float | None) -> dict[str, Any]:
    """TrialConfig fields for the limits form; empty inputs keep the defaults (80% of RAM, none)."""
    out: dict[str, Any] = {}
    if budget_mib:
        out["memory_budget_bytes"] = int(budget_mib) * MIB
    if timeout_s:
        out["timeout_seconds"] = float(timeout_s)
    return out


def suggested_folders(roots: Iterable[str]) -> list[str]:
    """The roots plus their direct sub-folders that hold sub-folders (class-per-folder candidates).

    Bounded to 300 entries per root so a large home folder stays quick; unreadable folders are
    skipped, hidden ones left out.
    """
    out: list[str] = []
    for root in roots:
        out.append(root)
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)[:300]
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                if any(sub.is_dir(follow_symlinks=False) for sub in os.scandir(entry.path)):
                    out.append(entry.path)
            except OSError:
                continue
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
    rate = summary.get("steady_images_per_second") or summary.get("images_per_second")
    verdict, detail = leak_verdict_text(run)
    return [
        ("Peak RSS (VmHWM)", format_bytes(peak), "Highest resident memory of the worker, read from VmHWM."),
        (
            "Overhead over baseline",
            format_bytes(overhead, signed=True),
            f"Peak minus the RSS at ready (baseline {format_bytes(baseline)}).",
        ),
        ("Throughput", format_rate(rate), "Steady-state images/s (epoch 1 excluded when there are more)."),
        ("Leak verdict", verdict, detail),
    ]


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
    """The History table: list_runs() rows with memory in MiB, in HISTORY_COLUMNS order."""
    return runs.assign(
        peak_mib=runs["peak_rss_bytes"].map(mib),
        baseline_mib=runs["baseline_rss_bytes"].map(mib),
        leak_mib_per_epoch=runs["leak_bytes_per_epoch"].map(mib),
    )[HISTORY_COLUMNS]


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
                "images_per_second": row["steady_images_per_second"] or row["images_per_second"],
                "on_front": row["id"] in front_ids,
            }
            for row in result["rows"]
        ],
        columns=["id", "label", "status", "peak_rss_bytes", "images_per_second", "on_front"],
    )


def sweep_trials_table(points: pd.DataFrame) -> pd.DataFrame:
    """The sweep's trial table with memory and throughput in human units."""
    table = points.assign(
        peak=points["peak_rss_bytes"].map(format_bytes),
        throughput=points["images_per_second"].map(format_rate),
    )
    return table[["id", "label", "status", "peak", "throughput", "on_front"]]
