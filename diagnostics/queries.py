"""Read-only queries of the store for the dashboard: the sidebar's queue, a live run or sweep and
the stored sweeps. They never write: a queued or running run whose runner process is gone (or
that left an ending file), and a sweep whose process is gone, read as recovery would record them
(``recover.ended_runs``, ``recover.ended_sweeps``); the stored rows stay as they are until the
recovery itself runs (once per page run in the front end, and in every runner).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from diagnostics.recover import ended_runs, ended_sweeps
from diagnostics.status import ACTIVE_STATUSES, ACTIVE_SWEEP_STATUSES
from diagnostics.views.common import STATUS_ICONS, trials_ahead_text

__all__ = [
    "live_run",
    "live_sweep",
    "parse_run_id",
    "queue_view",
    "run_status",
    "run_to_show",
    "stored_sweeps",
]


_MAX_RUN_ID = 2**63 - 1  # SQLite's largest integer: a bigger one cannot be looked up


def parse_run_id(text: Any) -> int | None:
    """The run id ``text`` (a ``?run=`` value) spells: a whole number SQLite can hold, else None
    ("abc", "1e99", "-3", "99999999999999999999")."""
    text = str(text).strip()
    if not (text.isascii() and text.isdecimal()) or int(text) > _MAX_RUN_ID:
        return None
    return int(text)


def run_to_show(store: Any, chosen: Any = None) -> int | None:
    """The run the Run page shows: the explicit choice (this session or ``?run=``) when it spells a
    run id, else the running or latest queued run, else the newest stored one; None in an empty
    store. Whether the choice is stored is ``run_status``'s to say."""
    if chosen and (run_id := parse_run_id(chosen)) is not None:
        return run_id
    active = store.active_runs()
    if active:
        running = [r for r in active if r["status"] == "running"]
        return int((running or active)[-1]["id"])
    latest = store.list_runs()
    return int(latest["id"].iloc[0]) if not latest.empty else None


def run_status(store: Any, run_id: int) -> str | None:
    """The stored status of run ``run_id``; None when the store has no such run (deleted)."""
    return store.get_run(run_id)["status"] if run_id in {int(i) for i in store.list_runs()["id"]} else None


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
