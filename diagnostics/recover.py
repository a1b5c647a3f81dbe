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

from diagnostics.process import process_alive, process_create_time, trial_folder_owner
from diagnostics.store import Store

__all__ = [
    "SWEEP_ENDED",
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


def recover_interrupted(store: Store) -> list[int]:
    """Close queued/running runs that no live process will finish; return their ids.

    A run whose runner left an ending file (the store refused its final write, e.g. a full disk)
    gets the status and cause recorded there, whether or not that process still lives; otherwise a
    run whose runner process is gone becomes ``interrupted``. Then sweeps whose process is gone
    become ``interrupted`` (``recover_interrupted_sweeps``). Also removes trial folders left by
    runners that ended abruptly (``clean_stale_trial_folders``).
    """
    clean_stale_trial_folders()
    recovered = []
    brief = ("id", "runner_pid", "runner_create_time", "finished", "error")
    for run in store.runs(("queued", "running"), columns=brief):
        ending_path = _ending_path(store, run["id"])
        try:
            ending = json.loads(ending_path.read_text())
        except (OSError, ValueError):
            ending = None
        if ending is not None and (
            ending.get("runner_pid") != run.get("runner_pid")
            or abs((ending.get("runner_create_time") or 0) - (run.get("runner_create_time") or 0)) >= 1.0
        ):
            ending_path.unlink(missing_ok=True)  # left by a run of an earlier store with this id
            ending = None
        if ending is not None:
            store.update_run(
                run["id"],
                status=ending.get("status") or "failed",
                error=ending.get("error"),
                finished=run.get("finished") or time.time(),
            )
            ending_path.unlink(missing_ok=True)
            recovered.append(run["id"])
            continue
        if process_alive(run.get("runner_pid"), run.get("runner_create_time")):
            continue
        store.update_run(
            run["id"],
            status="interrupted",
            finished=run.get("finished") or time.time(),
            error=run.get("error") or "the process running this trial ended before the trial did",
        )
        recovered.append(run["id"])
    recover_interrupted_sweeps(store)
    return recovered


def recover_interrupted_sweeps(store: Store) -> list[int]:
    """Mark sweeps whose owner process is gone (pid + start time) ``interrupted``; return their ids.

    ``recover_interrupted`` calls it after closing the runs, so the trial that was running when the
    process died is already ``interrupted`` too; the trials the sweep finished keep their results.
    """
    recovered = []
    for sweep in store.active_sweeps():
        if process_alive(sweep.get("owner_pid"), sweep.get("owner_create_time")):
            continue
        completed = list(store.list_runs(sweep_id=sweep["id"])["status"]).count("completed")
        kept = f"; the {completed} trial(s) it completed are kept" if completed else ""
        error = f"{SWEEP_ENDED} (pid {sweep.get('owner_pid')}){kept}"
        store.update_sweep(sweep["id"], status="interrupted", error=error)
        recovered.append(sweep["id"])
    return recovered
