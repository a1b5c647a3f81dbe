"""Analysis of a stored run (diagnostics/analysis/stored.py), on runs the FakeWorker really ran."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from diagnostics import analysis, throughput
from diagnostics.analysis.stored import analyze_run, basic_summary
from diagnostics.config import TrialConfig
from diagnostics.errors import StoreError
from diagnostics.runner import run_trial
from diagnostics.store import SAMPLE_COLUMNS, Store

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "fake_worker.py"


@pytest.fixture
def stored_run(diag_home, monkeypatch, sample_data_dir):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.2")
    store = Store(diag_home)
    run_id = run_trial(TrialConfig(dataset=str(sample_data_dir), epochs=2), store)
    assert store.get_run(run_id)["status"] == "completed"
    return store, run_id


def test_a_stored_run_analysed_again_gives_what_the_runner_stored(stored_run):
    store, run_id = stored_run
    run = store.get_run(run_id)
    again = analyze_run(store, run_id)
    assert "analysis_error" not in again
    for key in ("peak_rss_bytes", "baseline_rss_bytes", "images_per_second", "epochs", "status"):
        assert again["summary"][key] == run["summary"][key], key
    assert [f["id"] for f in again["findings"]] == [f["id"] for f in run["findings"]]


def test_the_ending_the_runner_passes_is_what_analysis_sees(stored_run):
    store, run_id = stored_run
    result = analyze_run(store, run_id, status="killed_budget", message="budget", budget_bytes=123)
    assert result["summary"]["status"] == "killed_budget"
    assert result["summary"]["memory_budget_bytes"] == 123


def test_a_failing_analysis_keeps_the_headline_numbers_and_says_why(stored_run, monkeypatch):
    store, run_id = stored_run

    def broken(*args, **kwargs):
        raise ValueError("a bug in a rule")

    monkeypatch.setattr(analysis, "analyze", broken)
    result = analyze_run(store, run_id, peak_bytes=777, peak_source="VmHWM (runner)")
    assert result["analysis_error"] == "analysis failed: ValueError: a bug in a rule"
    assert result["findings"] == [] and result["log_groups"] == []
    summary = result["summary"]
    assert summary["peak_rss_bytes"] == 777 and summary["peak_source"] == "VmHWM (runner)"
    assert [e["images"] for e in summary["epochs"]] == [550, 550]
    assert summary["images_per_second"] == throughput.images_per_second({"epochs": summary["epochs"]})
    assert summary["baseline_rss_bytes"] == store.get_run(run_id)["summary"]["baseline_rss_bytes"]


def test_an_unreadable_table_is_an_empty_frame_not_a_lost_run(stored_run, monkeypatch):
    store, run_id = stored_run

    def damaged(run_id):
        raise StoreError("database disk image is malformed (table samples)")

    monkeypatch.setattr(store, "samples", damaged)
    result = analyze_run(store, run_id)
    assert [e["images"] for e in result["summary"]["epochs"]] == [550, 550]  # the events still count


def test_basic_summary_of_events_without_samples():
    events = pd.DataFrame(
        {
            "t": [1.0, 2.0, 3.0],
            "kind": ["ready", "epoch_end", "done"],
            "data": [{"rss_bytes": 500}, {"epoch": 0, "images": 100, "seconds": 0.5}, {"rss_bytes": 900}],
        }
    )
    summary = basic_summary(pd.DataFrame(columns=list(SAMPLE_COLUMNS)), events)
    assert summary["baseline_rss_bytes"] == 500 and summary["final_rss_bytes"] == 900
    assert summary["epochs"][0]["images_per_second"] == 200.0
    assert summary["samples"] == 0 and summary["peak_tree_rss_bytes"] is None and summary["fds"] is None
