"""Scenario runs in the background for the dashboard: a thread runs the scenario while a JSON job
file under ``$DIAG_HOME/scenarios/`` holds its progress and result, so a reloaded page (or a
second browser) shows it; a job whose owner process is gone reads as ``interrupted``.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from diagnostics.errors import DiagnosticsError
from diagnostics.process import process_alive, process_create_time
from diagnostics.scenarios.execute import _jsonable, _prepare, run_scenario

__all__ = ["job_progress", "list_jobs", "read_job", "start_job"]


def _jobs_dir(store: Any) -> Path:
    return Path(store.home) / "scenarios"


def _write_job(store: Any, job: dict[str, Any]) -> None:
    folder = _jobs_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job['id']}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(_jsonable(job)), encoding="utf-8")
    os.replace(temporary, path)  # readers never see half a file


def _owner_alive(job: dict[str, Any]) -> bool:
    """The liveness test of runs and sweeps (``process.process_alive``) on the job's owner."""
    return process_alive(job.get("pid"), job.get("pid_create_time"))


def read_job(store: Any, job_id: str) -> dict[str, Any]:
    """A job as last written; a running job whose process is gone reads as ``interrupted``."""
    path = _jobs_dir(store) / f"{job_id}.json"
    try:
        job = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DiagnosticsError(f"no scenario run {job_id!r} in {_jobs_dir(store)}") from None
    if job.get("status") == "running" and not _owner_alive(job):
        job["status"] = "interrupted"
        job["error"] = job.get("error") or "the process running this scenario ended before it did"
    return job


def list_jobs(store: Any, limit: int = 20) -> list[dict[str, Any]]:
    """Scenario jobs, newest first."""
    folder = _jobs_dir(store)
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[:limit]
    jobs = []
    for path in paths:
        try:
            jobs.append(read_job(store, path.stem))
        except DiagnosticsError:
            continue
    return sorted(jobs, key=lambda j: j.get("started") or 0, reverse=True)


def start_job(name: str, dataset: str, store: Any, *, allowed_roots: list | None = None) -> str:
    """Validate now (raising bad input here), then run the scenario in a background thread.

    The thread lives to the end of the scenario: the runner spawns each worker from it, and the
    worker's PR_SET_PDEATHSIG is tied to the thread that spawned it.
    """
    scenario, configs = _prepare(name, dataset, allowed_roots)
    job_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    job = {
        "id": job_id,
        "scenario": scenario.name,
        "question": scenario.question,
        "dataset": str(dataset),
        "labels": [label for label, _ in configs],
        "status": "running",
        "done": 0,
        "total": len(configs),
        "label": None,
        "run_ids": [],
        "run_id_floor": _max_run_id(store),
        "pid": os.getpid(),
        "pid_create_time": process_create_time(),
        "started": time.time(),
        "result": None,
        "error": None,
    }
    _write_job(store, job)
    thread = threading.Thread(
        target=_job_main, args=(store.home, job, allowed_roots), name=f"scenario-{job_id}", daemon=True
    )
    thread.start()
    return job_id


def _max_run_id(store: Any) -> int:
    frame = store.list_runs()
    return int(frame["id"].max()) if len(frame) else 0


def _job_main(home: Any, job: dict[str, Any], allowed_roots: list | None) -> None:
    from diagnostics.store import Store

    store = Store(home)  # this thread's own connection

    def progress(info: dict[str, Any]) -> None:
        job.update(done=info["done"], label=info["label"], run_ids=list(info["run_ids"]))
        if info["run_id"] is None:
            job["run_id_floor"] = _max_run_id(store)
        _write_job(store, job)

    try:
        job["result"] = run_scenario(
            job["scenario"], job["dataset"], store, progress, allowed_roots=allowed_roots
        )
        job["status"] = "completed"
    except DiagnosticsError as exc:
        job.update(status="failed", error=str(exc))
    except Exception as exc:  # shown on the page instead of dying silently in a thread
        job.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    job["finished"] = time.time()
    _write_job(store, job)


def job_progress(store: Any, job: dict[str, Any]) -> tuple[float, str, int | None]:
    """(fraction done, text, id of the trial running now) of a job, read from the store."""
    total = max(int(job.get("total") or 1), 1)
    done = int(job.get("done") or 0)
    if job.get("status") != "running":
        return done / total, f"{done} of {total} trials · {job.get('status')}", None
    live = _live_run(store, job)
    fraction, text = done / total, f"Trial {min(done + 1, total)} of {total}: {job.get('label') or '…'}"
    if live is not None:
        epochs = int((live.get("config") or {}).get("epochs") or 1)
        events = store.events(live["id"])
        ended = int((events["kind"] == "epoch_end").sum()) if len(events) else 0
        text += f" · run #{live['id']} {live['status']}, epoch {min(ended + 1, epochs)} of {epochs}"
        fraction += min(ended / epochs, 1.0) / total
    return min(fraction, 1.0), text, live["id"] if live else None


def _live_run(store: Any, job: dict[str, Any]) -> dict[str, Any] | None:
    # run_trial returns the id only when the trial ends; the trial running now is the newest active
    # run created after this job's floor for this process.
    floor = int(job.get("run_id_floor") or 0)
    mine = [
        r
        for r in store.active_runs()
        if int(r["id"]) > floor
        and r["id"] not in (job.get("run_ids") or [])
        and r.get("runner_pid") == job.get("pid")
    ]
    return max(mine, key=lambda r: r["id"]) if mine else None
