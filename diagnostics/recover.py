"""Recovery: close what a dead process left behind (runs, sweeps, trial folders).

A run, a sweep and a trial folder each name their owner process by pid plus start time
(``diagnostics.process``). When that process is gone, ``recover_interrupted`` ends its queued or
running runs ``interrupted`` (or with the cause the runner left in an ending file when the store
refused its final write: ``write_ending``), its sweeps too, and removes its trial folders. The
CLI runs it when it opens the store, the dashboard once per store.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from diagnostics.process import process_alive, process_create_time, trial_folder_owner
from diagnostics.status import ACTIVE_STATUSES
from diagnostics.store import Store

__all__ = [
    "RUN_ENDED",
    "SWEEP_ENDED",
    "ended_runs",
    "ended_sweeps",
    "clean_stale_trial_folders",
    "recover_interrupted",
    "recover_interrupted_sweeps",
    "runner_alive",
    "write_ending",
]

SWEEP_ENDED = "the process running this sweep ended before the sweep did"


def runner_alive(run: dict) -> bool:
    """Whether the process that created (or runs) this run still lives: pid plus start time."""
    return process_alive(run.get("runner_pid"), run.get("runner_create_time"))


def clean_stale_trial_folders() -> list[str]:
    """Remove trial folders whose runner (pid + start time in the name) is gone; return them."""
    base = tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        owner = trial_folder_owner(name)
        if owner is None:
            continue  # not ours (an older layout is removed with its TemporaryDirectory)
        if process_alive(*owner):
            continue
        path = os.path.join(base, name)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _ending_path(store: Store, run_id: int) -> Path:
    return store.home / f"run-{run_id}.ending.json"


def write_ending(store: Store, run_id: int, status: str, error: str | None) -> None:
    """The run's end, beside the store, for when the store itself refused the final write."""
    ending = {
        "status": status,
        "error": error,
        "runner_pid": os.getpid(),
        "runner_create_time": process_create_time(),
    }
    try:
        _ending_path(store, run_id).write_text(json.dumps(ending))
    except OSError:
        pass  # a full disk may refuse this too; the runner still prints the cause


RUN_ENDED = "the process running this trial ended before the trial did"


def _ending(store: Store, run: dict[str, Any]) -> dict[str, Any] | None:
    """The ending file this run's own runner left beside the store (the store refused its end)."""
    try:
        ending = json.loads(_ending_path(store, run["id"]).read_text())
    except (OSError, ValueError):
        return None
    if ending.get("runner_pid") != run.get("runner_pid") or (
        abs((ending.get("runner_create_time") or 0) - (run.get("runner_create_time") or 0)) >= 1.0
    ):
        return None  # left by a run of an earlier store with this id
    return ending


def ended_runs(store: Store) -> dict[int, dict[str, Any]]:
    """{run id: status, error, finished} of the queued or running runs no live process will finish:
    what ``recover_interrupted`` writes for them. Reads only (the dashboard's queue shows these).

    A run whose runner left an ending file (the store refused its final write, e.g. a full disk)
    gets the status and cause recorded there, whether or not that process still lives; otherwise a
    run whose runner process is gone is ``interrupted``.
    """
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
        elif not runner_alive(run):
            out[run["id"]] = {
                "status": "interrupted",
                "finished": finished,
                "error": run.get("error") or RUN_ENDED,
            }
    return out


def ended_sweeps(store: Store) -> dict[int, dict[str, Any]]:
    """{sweep id: status, error} of created or running sweeps whose owner process (pid + start
    time) is gone: what ``recover_interrupted_sweeps`` writes for them. Reads only."""
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


def recover_interrupted(store: Store) -> list[int]:
    """Close queued/running runs that no live process will finish (``ended_runs``); return their ids.

    Ending files are removed once applied, and so are those left by a run of an earlier store with
    the same id. Then sweeps whose process is gone become ``interrupted``
    (``recover_interrupted_sweeps``). Also removes trial folders left by runners that ended
    abruptly (``clean_stale_trial_folders``).
    """
    clean_stale_trial_folders()
    active = [run["id"] for run in store.runs(ACTIVE_STATUSES, columns=("id",))]
    ended = ended_runs(store)
    for run_id, end in ended.items():
        store.update_run(run_id, **end)
    for run_id in active:  # applied, or left by a run of an earlier store with this id
        _ending_path(store, run_id).unlink(missing_ok=True)
    recover_interrupted_sweeps(store)
    return list(ended)


def recover_interrupted_sweeps(store: Store) -> list[int]:
    """Mark sweeps whose owner process is gone ``interrupted`` (``ended_sweeps``); return their ids.

    ``recover_interrupted`` calls it after closing the runs, so the trial that was running when the
    process died is already ``interrupted`` too; the trials the sweep finished keep their results.
    """
    ended = ended_sweeps(store)
    for sweep_id, end in ended.items():
        store.update_sweep(sweep_id, **end)
    return list(ended)
