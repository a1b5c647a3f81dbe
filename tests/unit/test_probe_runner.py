"""The runner stores the probe's snapshots in their own tables and hands them to analyze (FakeWorker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnostics import analysis, runner
from diagnostics.config import TrialConfig
from diagnostics.store import Store

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "fake_worker.py"


@pytest.fixture
def store(diag_home, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.2")
    return Store(diag_home)


def test_pipeline_and_composition_events_go_to_their_tables_and_to_analyze(
    store, sample_data_dir, monkeypatch
):
    seen = {}
    real_analyze = analysis.analyze

    def spy(run, samples, events, logs, scan, *, pipeline=None, composition=None, **kwargs):
        seen["pipeline"], seen["composition"] = pipeline, composition
        return real_analyze(run, samples, events, logs, scan, **kwargs)

    monkeypatch.setattr(analysis, "analyze", spy)
    run_id = runner.run_trial(TrialConfig(dataset=str(sample_data_dir), epochs=2), store)
    run = store.get_run(run_id)
    assert run["status"] == "completed", run["error"]
    kinds = set(store.events(run_id)["kind"])
    assert "pipeline" not in kinds and "composition" not in kinds
    pipeline, composition = store.pipeline(run_id), store.composition(run_id)
    # The FakeWorker sends one snapshot per step (5 per epoch) and one per epoch end.
    assert len(pipeline) == len(composition) == 12
    assert [d["reason"] for d in pipeline["data"]].count("epoch_end") == 2
    assert pipeline["data"].iloc[-1]["nodes"][3]["name"] == "Shuffle"
    assert composition["data"].iloc[0]["anon_bytes"] > 0
    assert seen["pipeline"]["t"].tolist() == pipeline["t"].tolist()
    assert seen["composition"]["t"].tolist() == composition["t"].tolist()
    ready = store.events(run_id).query("kind == 'ready'")["data"].iloc[0]
    assert ready["composition"]["rss_bytes"] > 0
