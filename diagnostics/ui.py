"""Display helpers shared by the dashboard pages and the HTML report (no Streamlit here).

Everything inside the library is bytes and seconds; these functions turn them into the human units
the pages show, and build the small tables (config differences, run labels) that more than one
view needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "STATUS_ICONS",
    "config_diff",
    "epochs_frame",
    "format_bytes",
    "format_value",
    "sorted_findings",
    "format_rate",
    "format_seconds",
    "mib",
    "run_label",
    "scan_summary_rows",
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
