"""Issue 18 item 10 and the smaller items on the Scenarios page: the run picker never shows a
status the shown job has left, the trials line states what ran (a rerun's epochs), and no raw
backticks reach the picker (widget labels are plain text)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from diagnostics import scenarios
from diagnostics.process import process_create_time
from diagnostics.scenarios import jobs
from diagnostics.store import Store
from tests.app.test_pages_smoke import REPO, SAMPLE_DATA, app_at
from tests.synthetic import fill_store


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    home = tmp_path / "home"
    monkeypatch.setenv("DIAG_HOME", str(home))
    monkeypatch.setenv("DIAG_DATA_ROOTS", str(SAMPLE_DATA))
    monkeypatch.chdir(REPO)
    return Store(home)


def _cache_job(store: Store, run_ids: list[int], status: str = "completed") -> dict:
    """A cache scenario job as jobs.py writes it; its second trial was rerun with 7 epochs."""
    scenario = scenarios.get_scenario("cache")
    labels = [label for label, _ in scenario.trials(str(SAMPLE_DATA))]
    result = scenarios.judge(store, scenario, run_ids, labels, str(SAMPLE_DATA))
    job = {
        "id": "20261206-230000-abcdef",
        "scenario": "cache",
        "question": scenario.question,
        "dataset": str(SAMPLE_DATA),
        "labels": labels,
        "status": status,
        "done": 3 if status == "completed" else 2,
        "total": 3,
        "run_ids": run_ids if status == "completed" else run_ids[:2],
        "pid": os.getpid(),
        "pid_create_time": process_create_time(),
        "started": time.time(),
        "result": result if status == "completed" else None,
        "error": None,
    }
    jobs._write_job(store, job)
    return job


def _runs(store: Store) -> list[int]:
    run_ids = fill_store(store, str(SAMPLE_DATA), runs=3)
    rerun = store.get_run(run_ids[1])["config"]
    store.update_run(run_ids[1], config={**rerun, "epochs": 7})
    return run_ids


def test_the_picker_never_shows_a_status_the_shown_job_has_left(store, monkeypatch):
    """The job ends between the page's listing of the jobs and its read of the open one: the
    verdict must not appear under a picker that still says 'running'."""
    run_ids = _runs(store)
    running = _cache_job(store, run_ids, status="running")
    listed = scenarios.list_jobs

    def list_then_finish(s, *args, **kwargs):
        out = listed(s, *args, **kwargs)
        if sys._getframe(1).f_code.co_filename.endswith("scenarios.py"):  # the page's own listing
            _cache_job(store, run_ids, status="completed")  # the job's thread writes its end now
        return out

    monkeypatch.setattr(scenarios, "list_jobs", list_then_finish)
    at = app_at("pages/scenarios.py")
    picker = at.selectbox(key="scn_open")
    verdict_shown = any("Verdict." in s.value for s in at.success)
    label = picker.options[picker.index]
    assert not (verdict_shown and "running" in label), (label, verdict_shown)
    assert running["id"] in label
    progress = [p.proto.text for p in at.get("progress")]
    assert verdict_shown or progress, "neither the verdict nor the job's progress is shown"
    if not verdict_shown:  # the listing said running: the live view shows it, and reruns at its end
        assert "running" in label


def test_the_trials_line_says_what_ran_and_no_backticks_reach_the_picker(store):
    run_ids = _runs(store)
    _cache_job(store, run_ids)
    at = app_at("pages/scenarios.py")
    question = at.selectbox(key="scn_name")
    assert "`" not in question.options[question.index], question.options
    assert "Does cache() make my RAM grow?" in question.options[question.index]
    ran = [m.value for m in at.markdown if "Trials that ran" in m.value]
    assert ran, [m.value for m in at.markdown]
    assert "7 epochs" in ran[0] and "rerun" in ran[0], ran[0]
    assert f"#{run_ids[1]}" in ran[0]
