"""Running a scenario: every config validated and the dataset confined before the first trial
(``_prepare``, shared with the background jobs), the trials through an executor (local: one after
another), then the verdict on the runs as stored (``trial_record``) as the result dict the CLI
prints and the page shows (``judge``, which also re-judges stored runs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError
from diagnostics.host import available_ram_bytes

if TYPE_CHECKING:
    from diagnostics.scenarios import Scenario

__all__ = ["judge", "run_scenario", "trial_record"]


def trial_record(store: Any, run_id: int, label: str) -> dict[str, Any]:
    """A finished run as a verdict reads it."""
    run = store.get_run(run_id)
    events = store.events(run_id)
    gc_events, window = [], None
    if events is not None and len(events):
        for row in events[events["kind"] == "gc"].itertuples():
            gc_events.append({**(row.data or {}), "t": float(row.t)})
        starts = events[events["kind"] == "epoch_start"]["t"]
        ends = events[events["kind"].isin(["epoch_end", "gc"])]["t"]
        if len(starts) and len(ends):
            window = [float(starts.min()), float(ends.max())]
    return {
        "label": label,
        "run_id": run_id,
        "status": run.get("status"),
        "error": run.get("error"),
        "config": run.get("config") or {},
        "summary": run.get("summary") or {},
        "findings": run.get("findings") or [],
        "log_groups": run.get("log_groups") or [],
        "gc_events": gc_events,
        "epoch_window": window,
    }


def _prepare(
    name: str, dataset: str, allowed_roots: list | None
) -> tuple[Scenario, list[tuple[str, TrialConfig]]]:
    from diagnostics.dataset import resolve_dataset
    from diagnostics.scenarios import get_scenario  # the catalogue imports this module

    scenario = get_scenario(name)
    root = resolve_dataset(dataset, allowed_roots)
    return scenario, scenario.configs(str(root))


def run_scenario(
    name: str,
    dataset: str,
    store: Any = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    *,
    allowed_roots: list | None = None,
    executor: Any = None,
) -> dict[str, Any]:
    """Run the scenario's trials through the executor and judge them; returns the result dict.

    Every config is validated and the dataset confined before the first trial starts.
    ``on_progress(info)`` gets ``{"done", "total", "label", "run_id", "run_ids"}`` before each trial
    (``run_id`` None) and after it; ``run_ids`` are the finished trials' runs in trial order.
    ``executor`` (``executors.get_executor``): local (default, one after another) or ray.
    """
    from diagnostics.executors import get_executor
    from diagnostics.store import Store
    from diagnostics.sweep import autorange

    store = store or Store()
    executor = executor if executor is not None else get_executor("local")
    scenario, configs = _prepare(name, dataset, allowed_roots)
    labels = [label for label, _ in configs]
    finished: dict[int, int] = {}

    def report(index: int, run_id: int | None) -> None:
        if on_progress is not None:
            run_ids = [finished[i] for i in sorted(finished)]
            info = {"done": len(finished), "total": len(configs), "label": labels[index]}
            on_progress({**info, "run_id": run_id, "run_ids": run_ids})

    def done(result: Any) -> None:
        if result.error is not None:
            raise ConfigError(result.error)  # the configs were validated: nothing else may fail alone
        finished[result.index] = result.run_id
        report(result.index, result.run_id)

    results = executor.run(
        store,
        [config for _, config in configs],
        allowed_roots=allowed_roots,
        rerun=(lambda run_id, config: autorange(store, run_id, config)) if scenario.autorange else None,
        on_start=lambda index: report(index, None),
        on_done=done,
    )
    return judge(store, scenario, [r.run_id for r in results], labels, dataset)


def judge(
    store: Any, scenario: Scenario, run_ids: list[int], labels: list[str], dataset: str = ""
) -> dict[str, Any]:
    """The result dict of finished runs (also used to re-judge stored runs)."""
    records = [trial_record(store, run_id, label) for run_id, label in zip(run_ids, labels, strict=True)]
    verdict = scenario.verdict(records, {"available_ram_bytes": available_ram_bytes()})
    better = verdict.better
    return {
        "scenario": scenario.name,
        "question": scenario.question,
        "metric_name": scenario.metric,
        "dataset": dataset,
        "run_ids": list(run_ids),
        "labels": list(labels),
        "statuses": [r["status"] for r in records],
        "verdict": verdict.text,
        "metric": _jsonable(verdict.metric),
        "better_run_id": run_ids[better] if better is not None else None,
        "better_label": labels[better] if better is not None else None,
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
