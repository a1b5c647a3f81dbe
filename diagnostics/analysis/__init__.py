"""Turn a trial's samples, events and logs into numbers, a leak verdict and findings with evidence.

``analyze(run, samples, events, logs, scan)`` is the entry point (``analyze_run`` reads a stored run's
frames and calls it: the runner does when a trial ends); the pieces
(``summarise``, ``leak_verdict``, ``memory_model``, ``project``, ``findings``) are public so tests
and benchmarks can use them on synthetic data. Everything works on partial data: a run killed by
the budget has no ``done`` event and maybe half an epoch; then the numbers that cannot be known
are ``None`` and the summary's ``missing`` list says why.

Every finding cites the numbers behind it (``detail``) and names the option to change (``advice``);
``evidence`` carries the same numbers for the UI and the JSON export.
"""

from __future__ import annotations

from typing import Any

from diagnostics.analysis._util import _config, _events_of, _num
from diagnostics.analysis.attribution import attribute, attribution_frame
from diagnostics.analysis.findings import RULES, findings
from diagnostics.analysis.leak import leak_verdict
from diagnostics.analysis.memory_model import (
    PATH_ELEMENT_BYTES,
    PREFETCH_AUTO_BOUND_BATCHES,
    memory_model,
    model_param_count,
    project,
)
from diagnostics.analysis.pipeline import autotune_frame, pipeline_summary
from diagnostics.analysis.stored import analyze_run
from diagnostics.analysis.summary import (
    _children_peak,
    _last_epoch_jitter,
    _model_total,
    summarise,
)
from diagnostics.logs import group_logs

__all__ = [
    "PATH_ELEMENT_BYTES",
    "PREFETCH_AUTO_BOUND_BATCHES",
    "RULES",
    "analyze",
    "analyze_run",
    "attribution_frame",
    "autotune_frame",
    "findings",
    "leak_verdict",
    "memory_model",
    "model_param_count",
    "project",
    "summarise",
    "xray_summary",
]


# -- entry point -----------------------------------------------------------------------------------


def analyze(
    run: dict[str, Any],
    samples: Any,
    events: Any,
    logs: Any,
    scan: dict[str, Any] | None,
    *,
    available_ram_bytes: int | None = None,
    cpu_count: int | None = None,
    iterate_images_per_second: float | None = None,
    pipeline: Any = None,
    composition: Any = None,
) -> dict[str, Any]:
    """Summary, findings and log groups of one run. Never raises on partial data.

    ``pipeline`` / ``composition`` are the probe's frames (``store.pipeline(run_id)`` /
    ``store.composition(run_id)``); with either holding data the summary gains ``attribution``,
    ``attribution_epochs`` and ``pipeline`` (see attribution.py, pipeline.py).
    """
    config = _config(run)
    if scan is not None and hasattr(scan, "to_dict"):
        scan = scan.to_dict()
    scan = scan or run.get("scan") or None
    summary = summarise(run, samples, events)

    rss_ends = [e.get("rss_end_bytes") for e in summary["epochs"]]
    leak = leak_verdict(rss_ends, summary["baseline_rss_bytes"], _last_epoch_jitter(samples, events))
    summary["leak"] = leak
    summary["leak_bytes_per_epoch"] = leak["leak_bytes_per_epoch"]

    host = run.get("host") or {}
    model, notes = memory_model(config, scan, cpu_count or host.get("cpu_count"))
    summary["memory_model"] = model
    summary["memory_model_notes"] = notes
    summary["modelled_total_bytes"] = _model_total(model)
    if config.get("dtype", "float32") != "float32":
        float32_model, _ = memory_model(
            {**config, "dtype": "float32"}, scan, cpu_count or host.get("cpu_count")
        )
        summary["modelled_total_float32_bytes"] = _model_total(float32_model)
    summary["projection"] = project(config, scan, model, summary["measured_overhead_bytes"])
    rate = summary.get("images_per_second")
    full = summary["projection"]["full_dataset_images"]
    # Trials sized for a minute (prepare.default_steps): what one whole epoch would take.
    summary["projection"]["full_epoch_seconds"] = full / rate if rate and full else None
    summary["children_peak_rss_bytes"] = _children_peak(samples)

    epoch_starts = [e["t"] for e in _events_of(events, "epoch_start") if e.get("t") is not None]
    log_groups = group_logs(logs, epoch_starts, gpus=(run.get("versions") or {}).get("gpus"))
    summary["delivered_fewer"] = delivered_fewer(config, scan, summary["epochs"])

    if _has_rows(pipeline) or _has_rows(composition):
        summary.update(xray_summary(run, config, summary, events, pipeline, composition, scan))

    if iterate_images_per_second is None:
        iterate_images_per_second = _num((config.get("extra") or {}).get("iterate_images_per_second"))
    found = findings(
        config,
        summary,
        log_groups,
        available_ram_bytes=available_ram_bytes,
        iterate_images_per_second=iterate_images_per_second,
    )
    return {"summary": summary, "findings": found, "log_groups": log_groups}


def delivered_fewer(
    config: dict[str, Any], scan: dict[str, Any] | None, epochs: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Epochs that delivered fewer images than the scan found for this loader, and the known why.

    Needs a scan summary with ``loader_images`` (dataset.scan_summary with the loader's skips);
    a validation split delivers a subset on purpose, so it is not judged.
    """
    scan = scan or {}
    if scan.get("loader_images") is None or config.get("validation_split"):
        return None
    scanned = int(scan.get("num_images") or 0)
    expected = int(scan["loader_images"])
    steps = config.get("steps")
    batch = int(config.get("batch_size") or 32)
    limit = steps * batch if steps else None
    delivered = [int(e["images"]) for e in epochs if e.get("images") is not None]
    if not delivered:
        return None
    wanted = min(scanned, limit) if limit else scanned
    if min(delivered) >= wanted:
        return None
    return {
        "scanned_images": scanned,
        "expected_images": min(expected, limit) if limit else expected,
        "delivered_images": min(delivered),
        "files": list(scan.get("loader_skipped") or []),
        "files_total": int(scan.get("loader_skipped_total") or 0),
    }


def _has_rows(frame: Any) -> bool:
    return frame is not None and len(frame) > 0


def xray_summary(
    run: dict[str, Any],
    config: dict[str, Any],
    summary: dict[str, Any],
    events: Any,
    pipeline: Any,
    composition: Any,
    scan: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``attribution``, ``attribution_epochs`` and ``pipeline`` of the summary (issue 11 §6)."""
    snippet = run.get("snippet") or _render_snippet(config, scan)
    batch_size = _num(config.get("batch_size"))
    batch_size = int(batch_size) if batch_size else None
    result = attribute(summary, events, pipeline, composition, snippet=snippet, batch_size=batch_size)
    stages = pipeline_summary(
        pipeline,
        snippet=snippet,
        batch_size=batch_size,
        mode=config.get("mode"),
        achieved_images_per_second=summary.get("steady_images_per_second"),
        epoch_ends=_events_of(events, "epoch_end"),
    )
    return {
        "attribution": result["peak"],
        "attribution_epochs": result["epochs"],
        "pipeline": stages,
    }


def _render_snippet(config: dict[str, Any], scan: dict[str, Any] | None) -> str | None:
    """The run's code when the run row has none stored (stage code lines come from it)."""
    if not scan or not config.get("loader"):
        return None
    try:
        from diagnostics.config import TrialConfig
        from diagnostics.snippet import render

        return render(TrialConfig.from_dict(config), scan)
    except Exception:  # an old or odd config: stages just have no code line
        return None
