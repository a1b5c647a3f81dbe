"""Read-only queries of the store for the dashboard: the sidebar's queue, a live run or sweep and
the stored sweeps. They never write: a queued or running run whose runner process is gone (or
that left an ending file), and a sweep whose process is gone, read as the runner's recovery would
record them (``runner.recover_interrupted``), while the stored rows stay as they are until the
recovery itself runs (once per page run in the front end, and in every runner).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd

from diagnostics.process import process_alive
from diagnostics.status import ACTIVE_STATUSES, ACTIVE_SWEEP_STATUSES
from diagnostics.views.common import STATUS_ICONS, trials_ahead_text

__all__ = ["ended_runs", "ended_sweeps", "live_run", "live_sweep", "queue_view", "stored_sweeps"]

RUN_ENDED = "the process running this trial ended before the trial did"


def _ending(store: Any, run: dict[str, Any]) -> dict[str, Any] | None:
    """The ending file the run's own runner left beside the store (the store refused its end)."""
    from diagnostics import runner

    try:
        ending = json.loads(runner._ending_path(store, run["id"]).read_text())
    except (OSError, ValueError):
        return None
    if ending.get("runner_pid") != run.get("runner_pid") or (
        abs((ending.get("runner_create_time") or 0) - (run.get("runner_create_time") or 0)) >= 1.0
    ):
        return None  # left by a run of an earlier store with this id
    return ending


def ended_runs(store: Any) -> dict[int, dict[str, Any]]:
    """{run id: status, error, finished} of queued or running runs no live process will finish:
    what ``runner.recover_interrupted`` would write for them. Reads only."""
    out: dict[int, dict[str, Any]] = {}
    brief = ("id", "runner_pid", "runner_create_time", "finished", "error")
    for run in store.runs(ACTIVE_STATUSES, columns=brief):
        finished = run.get("finished") or time.time()
        ending = _ending(store, run)
        if ending is not None:
            out[run["id"]] = {
                "status": ending.get("status") or "failed",
                "error": ending.get("error"),
                "finished": finished,
            }
        elif not process_alive(run.get("runner_pid"), run.get("runner_create_time")):
            out[run["id"]] = {
                "status": "interrupted",
                "finished": finished,
                "error": run.get("error") or RUN_ENDED,
            }
    return out


def ended_sweeps(store: Any) -> dict[int, dict[str, Any]]:
    """{sweep id: status, error} of created or running sweeps whose process is gone, as
    ``runner.recover_interrupted_sweeps`` would write them. Reads only."""
    from diagnostics.runner import SWEEP_ENDED

    out: dict[int, dict[str, Any]] = {}
    for sweep in store.active_sweeps():
        if process_alive(sweep.get("owner_pid"), sweep.get("owner_create_time")):
            continue
        completed = list(store.list_runs(sweep_id=sweep["id"])["status"]).count("completed")
        kept = f"; the {completed} trial(s) it completed are kept" if completed else ""
        out[sweep["id"]] = {
            "status": "interrupted",
            "error": f"{SWEEP_ENDED} (pid {sweep.get('owner_pid')}){kept}",
        }
    return out


def live_run(store: Any, run_id: int) -> dict[str, Any]:
    """``store.get_run`` for a page about to show the run as live: a queued or running run whose
    runner process has died (killed, even by SIGKILL) reads as interrupted (nothing is written)."""
    run = store.get_run(run_id)
    if run["status"] in ACTIVE_STATUSES:
        ended = ended_runs(store).get(run_id)
        if ended:
            run = {**run, **ended}
    return run


def live_sweep(store: Any, sweep_id: int) -> dict[str, Any]:
    """``store.get_sweep`` for a page about to show the sweep: a created or running sweep whose
    process has died (killed, even by SIGKILL) reads as interrupted (nothing is written)."""
    sweep = store.get_sweep(sweep_id)
    if sweep["status"] in ACTIVE_SWEEP_STATUSES:
        ended = ended_sweeps(store).get(sweep_id)
        if ended:
            sweep = {**sweep, **ended}
    return sweep


def stored_sweeps(store: Any) -> pd.DataFrame:
    """``store.list_sweeps`` for a picker: sweeps whose process died read as interrupted."""
    sweeps = store.list_sweeps()
    if sweeps["status"].isin(ACTIVE_SWEEP_STATUSES).any():
        ended = ended_sweeps(store)
        if ended:
            sweeps = sweeps.copy()
            gone = sweeps["id"].isin(list(ended))
            sweeps.loc[gone, "status"] = "interrupted"
    return sweeps


def queue_view(store: Any) -> list[tuple[str, str]]:
    """(icon, text) lines of what the store's trials are doing now: the sidebar's queue.

    Runs and sweeps whose process died are left out (they read as interrupted, see
    ``ended_runs``); the running trial says whether its worker is still importing TensorFlow, a
    queued one how many trials are ahead (as ``store.queue_position``), and sweeps and scenarios
    in progress say how far they are. Reads only.
    """
    ended = ended_runs(store)
    lines: list[tuple[str, str]] = []
    active = [
        run
        for run in store.runs(ACTIVE_STATUSES, columns=("id", "status", "loader", "t_ready"))
        if run["id"] not in ended
    ]
    for ahead, run in enumerate(active):
        if run["status"] == "running":
            doing = (
                "running" if run.get("t_ready") is not None else "starting the worker (importing TensorFlow)"
            )
        else:
            doing = f"queued, {trials_ahead_text(ahead)}"
        lines.append((STATUS_ICONS[run["status"]], f"#{run['id']} {run.get('loader')}: {doing}"))
    sweeps = store.list_sweeps()
    gone = ended_sweeps(store)
    for row in sweeps[sweeps["status"] == "running"].itertuples():
        if int(row.id) in gone:
            continue
        sweep = store.get_sweep(int(row.id))
        trials = store.list_runs(sweep_id=int(row.id))
        total = (sweep.get("summary") or {}).get("trials") or "?"
        done = sum(
            1
            for run_id, status in zip(trials["id"], trials["status"], strict=True)
            if status not in ACTIVE_STATUSES or int(run_id) in ended
        )
        lines.append((":material/science:", f"Sweep #{row.id} {row.name}: {done} of {total} trials done"))
    from diagnostics import scenarios

    for job in scenarios.list_jobs(store):
        if job.get("status") == "running":
            text = (
                f"Scenario {job.get('scenario')}: {job.get('done', 0)} of {job.get('total', '?')} trials done"
            )
            lines.append((":material/target:", text))
    return lines or [("", "No trial running.")]
