"""diagnostics.queries: the queue and the live run/sweep views read the store and never write it.

A run left 'running' by a runner that died (here: a runner identity that matches no live process)
reads as interrupted in every query, while the stored row stays exactly as it was until the
recovery (``recover.recover_interrupted``) runs.
"""

from __future__ import annotations

import os

import psutil

from diagnostics import queries
from diagnostics.config import TrialConfig
from diagnostics.recover import recover_interrupted
from diagnostics.scenarios import jobs
from diagnostics.store import Store
from tests.synthetic import SAMPLE_DATA, run_row


def _dead_run(store: Store, status: str = "running") -> int:
    run_id = store.create_run(TrialConfig(dataset="x"))
    # pid 1 is alive but started long before this create time: a reused pid, not this runner.
    store.update_run(run_id, status=status, t_ready=1.0, runner_pid=1, runner_create_time=1.0)
    return run_id


def _live_run(store: Store) -> int:
    run_id = store.create_run(TrialConfig(dataset="x"))  # this (live) process is its runner
    store.update_run(run_id, status="running", t_ready=1.0)
    return run_id


def test_a_dead_runners_run_reads_as_interrupted_in_the_queue_and_the_store_is_untouched(tmp_path):
    store = Store(tmp_path)
    dead = _dead_run(store)
    before = store.get_run(dead)
    assert queries.queue_view(store) == [("", "No trial running.")]
    run = queries.live_run(store, dead)
    assert run["status"] == "interrupted"
    assert run["error"] == "the process running this trial ended before the trial did"
    assert store.get_run(dead) == before  # nothing written: still 'running', no finished time
    assert before["status"] == "running" and before["finished"] is None
    recover_interrupted(store)  # the recovery writes what the queries showed
    stored = store.get_run(dead)
    assert stored["status"] == "interrupted" and stored["error"] == run["error"]


def test_the_queue_counts_a_live_run_behind_a_dead_one_as_next(tmp_path):
    store = Store(tmp_path)
    _dead_run(store, "queued")
    live = _live_run(store)
    assert [text for _, text in queries.queue_view(store)] == [f"#{live} keras_directory: running"]
    assert queries.live_run(store, live)["status"] == "running"


def test_a_dead_sweep_reads_as_interrupted_and_stays_stored_as_running(tmp_path):
    store = Store(tmp_path)
    sweep_id = store.create_sweep("batch", {"batch_size": [16, 32]}, TrialConfig(dataset="x"))
    store.update_sweep(sweep_id, status="running", summary={"trials": 2}, owner_create_time=1.0)
    before = store.get_sweep(sweep_id)
    assert queries.queue_view(store) == [("", "No trial running.")]
    sweep = queries.live_sweep(store, sweep_id)
    assert sweep["status"] == "interrupted"
    assert "process running this sweep ended" in sweep["error"], sweep["error"]
    assert list(queries.stored_sweeps(store)["status"]) == ["interrupted"]
    assert store.get_sweep(sweep_id) == before
    assert list(store.list_sweeps()["status"]) == ["running"]


def test_a_sweep_in_progress_counts_its_dead_trial_as_done(tmp_path):
    store = Store(tmp_path)
    sweep_id = store.create_sweep("batch", {"batch_size": [16, 32]}, TrialConfig(dataset="x"))
    store.update_sweep(sweep_id, status="running", summary={"trials": 2})  # this process owns it
    dead = store.create_run(TrialConfig(dataset="x"), sweep_id=sweep_id)
    store.update_run(dead, status="running", runner_pid=1, runner_create_time=1.0)
    assert queries.queue_view(store) == [
        (":material/science:", f"Sweep #{sweep_id} batch: 1 of 2 trials done")
    ]
    assert store.get_run(dead)["status"] == "running"


def test_queue_view_says_what_each_trial_is_doing(home):
    store = Store(home)
    assert queries.queue_view(store) == [("", "No trial running.")]
    starting = run_row(store, "running")
    queued = run_row(store, "queued")
    lines = [text for _, text in queries.queue_view(store)]
    assert lines == [
        f"#{starting} keras_directory: starting the worker (importing TensorFlow)",
        f"#{queued} keras_directory: queued, 1 trial ahead",
    ]
    store.update_run(starting, t_ready=2.0)
    assert [text for _, text in queries.queue_view(store)][0] == f"#{starting} keras_directory: running"
    store.update_run(starting, status="completed")
    store.update_run(queued, status="running", t_ready=3.0)
    assert [text for _, text in queries.queue_view(store)] == [f"#{queued} keras_directory: running"]
    store.update_run(queued, status="completed")
    sweep_id = store.create_sweep("batch", {"batch_size": [16, 32]}, TrialConfig(dataset="x"))
    store.update_sweep(sweep_id, status="running", summary={"trials": 2})
    lines = [text for _, text in queries.queue_view(store)]
    assert lines == [f"Sweep #{sweep_id} batch: 0 of 2 trials done"], lines
    swept = store.create_run(TrialConfig(dataset=str(SAMPLE_DATA)), sweep_id=sweep_id)
    store.update_run(swept, status="completed")
    store.update_sweep(sweep_id, owner_create_time=1.0)  # its process died between trials (pid reused)
    assert queries.queue_view(store) == [("", "No trial running.")]
    assert store.get_sweep(sweep_id)["status"] == "running"  # the queue only reads; recovery writes
    store.update_sweep(sweep_id, status="completed")
    job = {"id": "j1", "scenario": "cache", "status": "running", "done": 1, "total": 2, "started": 1.0}
    job.update(pid=os.getpid(), pid_create_time=psutil.Process().create_time())
    jobs._write_job(store, job)
    assert [text for _, text in queries.queue_view(store)] == ["Scenario cache: 1 of 2 trials done"]
    jobs._write_job(store, {**job, "pid": 1, "pid_create_time": 0.0})  # its process died
    assert queries.queue_view(store) == [("", "No trial running.")]


def test_the_run_page_shows_the_choice_else_the_running_run_else_the_newest(tmp_path):
    store = Store(tmp_path / "home")
    assert queries.run_to_show(store) is None and queries.run_to_show(store, "7") == 7
    done = run_row(store, "completed")
    assert queries.run_to_show(store) == done
    queued = run_row(store, "queued")
    assert queries.run_to_show(store) == queued
    running = run_row(store, "running")
    run_row(store, "queued")
    assert queries.run_to_show(store) == running  # the running one, not the latest queued
    assert queries.run_to_show(store, str(done)) == done


def test_a_deleted_run_has_no_status(tmp_path):
    store = Store(tmp_path / "home")
    run_id = run_row(store, "completed")
    assert queries.run_status(store, run_id) == "completed"
    store.delete_run(run_id)
    assert queries.run_status(store, run_id) is None


def test_a_choice_that_spells_no_run_id_falls_back_to_the_default(tmp_path):
    store = Store(tmp_path / "home")
    done = run_row(store, "completed")
    for text in ("abc", "1e99", "-3", "3.0", "99999999999999999999", "٣"):
        assert queries.parse_run_id(text) is None
        assert queries.run_to_show(store, text) == done
    assert queries.parse_run_id(" 12 ") == 12 and queries.run_status(store, None) is None
