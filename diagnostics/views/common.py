"""View text shared by more than one page and the HTML report: run labels, status icons and
texts, config differences, findings, the leak verdict and the throughput help."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from diagnostics import throughput
from diagnostics.config import dashboard_text
from diagnostics.units import format_bytes, format_rate, format_seconds

__all__ = [
    "SEVERITY_ORDER",
    "STATUS_ICONS",
    "STATUS_TEXT",
    "config_diff",
    "escape_markdown",
    "evidence_table",
    "finding_markdown",
    "format_value",
    "leak_verdict_text",
    "run_choices",
    "run_label",
    "run_labels",
    "sorted_findings",
    "throughput_help",
    "trials_ahead_text",
]

# Every ASCII punctuation mark may carry meaning in Streamlit's Markdown (links, images, emphasis,
# `:red[...]` and `:material/...:` directives, `$` maths, HTML); CommonMark lets a backslash escape
# each of them, so escaping all of them shows the text exactly as written.
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def escape_markdown(text: object) -> str:
    r"""``text`` (a file, folder, class, function or parameter name the user supplied) as literal
    Markdown: shown exactly as written, never a link, image, emphasis or directive.

    Example:
        >>> print(escape_markdown("![a](https:x).jpg"))
        \!\[a\]\(https\:x\)\.jpg
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


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


def run_label(run: Mapping[str, Any]) -> str:
    """'#12 keras_directory · cache=memory' from a get_run() dict or a list_runs() row."""
    config = run.get("config") or {}
    loader = run.get("loader") or config.get("loader") or "?"
    label = f"#{run.get('id')} {loader}"
    changed = _short_changes(config)
    return f"{label} · {changed}" if changed else label


def run_labels(runs: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """{run id: '#12 keras_directory · cache=memory, shuffle=True'} for runs shown together: each
    label names every option whose value differs between them (the loader is in the label)."""
    runs = list(runs)
    configs = [run.get("config") or {} for run in runs]
    keys = list(dict.fromkeys(k for config in configs for k in config if k not in ("extra", "loader")))
    differ = [k for k in keys if len({format_value(c.get(k)) for c in configs}) > 1]
    labels = {}
    for run, config in zip(runs, configs, strict=True):
        loader = run.get("loader") or config.get("loader") or "?"
        parts = [f"{k}={_label_value(k, config.get(k))}" for k in differ]
        labels[int(run["id"])] = f"#{run.get('id')} {loader}" + (f" · {', '.join(parts)}" if parts else "")
    return labels


def _label_value(key: str, value: Any) -> str:
    return Path(str(value)).name if key == "dataset" and value else format_value(value)


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


def run_choices(runs: pd.DataFrame, statuses: Iterable[str] | None = None) -> dict[int, str]:
    """{run id: label} in the order of ``runs`` (list_runs: newest first), for pickers."""
    if statuses is not None:
        runs = runs[runs["status"].isin(tuple(statuses))]
    return {
        int(r.id): f"#{r.id} {r.loader} · {Path(str(r.dataset_path)).name} · {r.status} · {r.created}"
        for r in runs.itertuples()
    }


def sorted_findings(findings: Iterable[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    return sorted(findings or [], key=lambda f: SEVERITY_ORDER.get(f.get("severity", "info"), 3))


def finding_markdown(finding: Mapping[str, Any]) -> str:
    """Title, detail and advice, options named as the dashboard's form names them."""
    text = f"**{finding.get('title', finding.get('id'))}**  \n{finding.get('detail', '')}"
    if finding.get("advice"):
        text += f"  \n→ {finding['advice']}"
    return dashboard_text(text)


def _evidence_name(key: str) -> str:
    """'epoch_end_rss_bytes' -> 'epoch end RSS': the unit goes into the value."""
    name = key.replace("_bytes", "").replace("_seconds", "").replace("_per_second", "/s")
    return re.sub(r"\brss\b", "RSS", name.replace("_", " "))


def _evidence_value(key: str, value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{_evidence_name(k)}: {_evidence_value(k, v)}" for k, v in value.items()) or "–"
    if isinstance(value, (list, tuple)):
        joint = "; " if any(isinstance(v, Mapping) for v in value) else ", "
        return joint.join(_evidence_value(key, v) for v in value) or "–"
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if "_bytes" in key:
        return format_bytes(value)
    if key.endswith("_per_second"):
        return format_rate(value)
    if "_seconds" in key:
        return format_seconds(value)
    if isinstance(value, float):
        return f"{value:,.3g}"
    return str(value)


def evidence_table(evidence: Mapping[str, Any] | None) -> pd.DataFrame:
    """A finding's evidence as figure/value rows: names in words, bytes and rates in their units."""
    names = [_evidence_name(k) for k in evidence or {}]
    rows = [
        # two keys one name apart (shuffle_buffer_bytes, shuffle_buffer): the second keeps its key
        (name if names.index(name) == i else key, dashboard_text(_evidence_value(key, value)))
        for i, (name, (key, value)) in enumerate(zip(names, (evidence or {}).items(), strict=True))
    ]
    return pd.DataFrame(rows, columns=["figure", "value"])


def trials_ahead_text(ahead: int) -> str:
    return "next in line" if ahead <= 0 else f"{ahead} trial{'s' if ahead != 1 else ''} ahead"


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


def throughput_help(rate: Mapping[str, Any]) -> str:
    """Help text of a throughput figure: its definition, range and whether it is stable."""
    text = throughput.DEFINITION
    if rate.get("min") is not None and len(rate.get("epochs_used") or []) > 1:
        text += f" This run: {format_rate(rate['min'])} to {format_rate(rate['max'])} over epochs {rate['epochs_used']}."
    if rate.get("images_per_second") is not None and not rate.get("stable"):
        text += f" Not stable: {rate['reason']}."
    return text
