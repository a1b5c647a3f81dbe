"""The ``--json`` contract: a run as one JSON document, the same for the CLI, History's export and
scripts reading a store.

``run_json(store, run_id)`` gives the keys of issue 2 (run_id, status, config, summary, findings,
logs, snippet, plus error, dataset_path, sweep_id and bad_files for context), with the summary's
throughput as ``diagnostics.throughput`` defines it, so the export matches every other view.
"""

from __future__ import annotations

from typing import Any

from diagnostics import throughput
from diagnostics.schema import _clean
from diagnostics.store import Store

__all__ = ["run_json"]


def run_json(store: Store, run_id: int) -> dict[str, Any]:
    """The ``--json`` document of issue 2: run_id, status, config, summary, findings, logs,
    snippet (plus error, dataset_path, sweep_id and bad_files for context)."""
    run = store.get_run(run_id)
    logs = []
    for group in run.get("log_groups") or []:
        # The full group stays in the store; the contract keys come first and are always there.
        entry = {
            "template": group.get("template"),
            "count": group.get("count"),
            "level": group.get("level"),
            "source": group.get("source"),
            "known": bool(group.get("known", False)),
            "explanation": group.get("explanation"),
        }
        entry.update({k: v for k, v in group.items() if k not in entry})
        logs.append(entry)
    scan = run.get("scan") or {}
    return _clean(
        {
            "run_id": run["id"],
            "status": run["status"],
            "config": run["config"],
            "summary": _with_throughput(run.get("summary")),
            "findings": run.get("findings") or [],
            "logs": logs,
            "snippet": run.get("snippet") or "",
            "error": run.get("error"),
            "dataset_path": run.get("dataset_path"),
            "bad_files": scan.get("bad_files", []),
            "bad_files_total": scan.get("bad_files_total", len(scan.get("bad_files") or [])),
            "sweep_id": run.get("sweep_id"),
        }
    )


def _with_throughput(summary: dict[str, Any] | None) -> dict[str, Any]:
    """The summary with its throughput as ``diagnostics.throughput`` defines it (older runs stored
    the all-epoch mean as images_per_second), so the JSON export matches every other view."""
    if not summary:
        return {}
    rate = throughput.of_summary(summary)
    return {**summary, "images_per_second": rate["images_per_second"], "throughput": rate}
