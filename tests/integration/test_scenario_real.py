"""One real scenario end to end: TensorFlow workers on sample_data, verdict quoting stored numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diagnostics import scenarios, throughput
from diagnostics.store import Store

pytestmark = pytest.mark.tf

REPO = Path(__file__).resolve().parents[2]


def test_decode_order_runs_three_real_trials_and_quotes_them(diag_home, monkeypatch, sample_data_dir):
    monkeypatch.delenv("DIAG_TEST_WORKER", raising=False)
    store = Store(diag_home)
    result = scenarios.run_scenario("decode_order", str(sample_data_dir), store)

    assert result["statuses"] == ["completed"] * 3, [store.get_run(r)["error"] for r in result["run_ids"]]
    runs = [store.get_run(run_id) for run_id in result["run_ids"]]
    assert [run["config"]["loader"] for run in runs] == ["eager_loop", "tfdata_map_batch", "tfdata_batch_map"]
    # The verdict quotes the stored runs' own numbers: the winner's steady rate and every peak.
    rates = {
        label: run["summary"]["steady_images_per_second"]
        for label, run in zip(result["labels"], runs, strict=True)
    }
    winner = max(rates, key=rates.get)
    assert result["better_label"] in rates
    # The pick is the winner or measurably indistinguishable from it (issue 13: ranges overlap).
    speeds = {
        label: throughput.of_summary(run["summary"])
        for label, run in zip(result["labels"], runs, strict=True)
    }
    assert all(s["stable"] for s in speeds.values()), speeds  # autorange made every timing stable
    better = result["better_label"]
    assert better == winner or not throughput.compare(speeds[better], speeds[winner])["measurable"]
    assert f"{rates[result['better_label']]:,.0f} images/s" in result["verdict"]
    for run in runs:
        assert f"{run['summary']['peak_rss_bytes'] / 1024**2:,.1f} MiB" in result["verdict"]
    assert result["better_run_id"] in result["run_ids"]
    assert store.get_run(result["better_run_id"])["snippet"]


def test_cli_scenario_json_holds_run_ids_and_verdict(diag_home, tmp_path):
    # The cheapest scenario through the command line: 2 short trials.
    env = {k: v for k, v in os.environ.items() if k != "DIAG_TEST_WORKER"}
    out = tmp_path / "scenario.json"
    done = subprocess.run(
        [sys.executable, "-m", "diagnostics", "scenario", "log_lines", "sample_data", "--json", str(out)],
        cwd=REPO,
        env={**env, "DIAG_HOME": str(diag_home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(out.read_text())
    assert document["scenario"] == "log_lines" and len(document["run_ids"]) == 2
    store = Store(diag_home)
    groups = [g for run_id in document["run_ids"] for g in store.get_run(run_id)["log_groups"]]
    assert groups, "a TF run prints log lines"
    assert f"{len({(g['template'], g['source']) for g in groups})} log templates" in document["verdict"]
    assert "verdict:" in done.stdout
