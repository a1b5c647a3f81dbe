"""Issue 13 item 9: a run that did not complete shows why first, and only what it measured.

Each outcome is produced by the runner with the FakeWorker (a real subprocess, no TensorFlow), then
the Run page (AppTest) and the HTML report are read back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from diagnostics.config import TrialConfig
from diagnostics.report import render_html
from diagnostics.runner import join_background, run_trial, start_trial_in_background
from diagnostics.store import Store

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "sample_data"
FAKE_WORKER = REPO / "tests" / "fakes" / "fake_worker.py"
MIB = 1024**2


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    home = tmp_path / "home"
    monkeypatch.setenv("DIAG_HOME", str(home))
    monkeypatch.setenv("DIAG_DATA_ROOTS", str(SAMPLE_DATA))
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE_WORKER))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.3")
    monkeypatch.chdir(REPO)
    return Store(home)


def _budget_kill(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "grow")
    return run_trial(config.replace(memory_budget_bytes=150 * MIB), store)


def _timeout(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "hang")
    return run_trial(config.replace(timeout_seconds=1.0), store)


def _cancel(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "hang")
    run_id = start_trial_in_background(config, store)
    deadline = time.monotonic() + 20
    while store.get_run(run_id)["t_ready"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    store.request_cancel(run_id)
    assert join_background(run_id, timeout=20)
    return run_id


def _import_death(store, config, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "import_exit")
    return run_trial(config, store)


OUTCOMES = {
    "killed_budget": _budget_kill,
    "timed_out": _timeout,
    "cancelled": _cancel,
    "failed": _import_death,
}


def _run_page(run_id: int) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("pages/run.py")
    at.session_state["run_id"] = run_id
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _figure_titles(at: AppTest) -> list[str]:
    titles = []
    for element in at.get("plotly_chart"):
        layout = json.loads(element.proto.spec)["layout"]
        titles.append((layout.get("title") or {}).get("text") or "")
    return titles


@pytest.mark.parametrize("status", list(OUTCOMES))
def test_a_run_that_did_not_complete_says_why_and_shows_only_what_it_measured(store, monkeypatch, status):
    config = TrialConfig(dataset=str(SAMPLE_DATA), epochs=2)
    run_id = OUTCOMES[status](store, config, monkeypatch)
    run = store.get_run(run_id)
    assert run["status"] == status, run["error"]

    at = _run_page(run_id)
    # Nothing that reads as a healthy, finished run.
    assert not any("No findings" in s.value for s in at.success)
    labels = [m.label for m in at.metric]
    assert "Overhead over baseline" not in labels
    assert "Memory model vs measured" not in _figure_titles(at)
    assert not any("This is the code the worker ran" in c.value for c in at.caption)
    # The status and why come first: the outcome box precedes every metric and chart.
    outcome = at.error[0].value
    assert run["error"].splitlines()[0] in outcome
    assert "Measured before it stopped" in outcome
    epochs_done = len((run["summary"] or {}).get("epochs") or [])
    assert f"{epochs_done} of 2 epochs completed" in outcome
    assert "Epochs completed" in labels
    if status == "failed":  # died while importing: no code ran, no baseline exists
        assert "never reported ready" in outcome
        assert not at.code

    page = render_html(store, [run_id])
    assert "No findings: nothing in this run needs attention" not in page
    assert "Memory model vs measured" not in page
    assert "Overhead over baseline" not in page
    assert "Measured before it stopped" in page


def test_a_completed_run_still_shows_everything(store, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "normal")
    run_id = run_trial(TrialConfig(dataset=str(SAMPLE_DATA), epochs=3), store)
    at = _run_page(run_id)
    labels = [m.label for m in at.metric]
    assert "Overhead over baseline" in labels and "Throughput" in labels
    assert any("This is the code the worker ran" in c.value for c in at.caption)
    assert not at.error
