"""Keeps the benchmark from rotting: `python -m bench --smoke` end to end, every key present.

Smoke sizes (32x32 images, a few steps, one pair or round per section) make the numbers
meaningless, so only their presence and the invariants that hold at any size are checked: the
reported peak is exactly the worker's VmHWM, and ratios are positive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.suite import TOP_LEVEL_KEYS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.tf
def test_bench_smoke_writes_every_key(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--no-docs",
            "--json",
            str(out),
            "--home",
            str(tmp_path / "home"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["errors"] == {}
    missing = [key for key in TOP_LEVEL_KEYS if result.get(key) is None]
    assert not missing, f"keys without a value: {missing}"
    assert result["peak_error_bytes"] == 0
    for key in ("monitor_overhead_ratio", "mprof_wall_ratio", "our_wall_ratio", "decode_limit_ratio"):
        assert result[key] > 0
    # Samples cannot see more than the high-water mark, except in the instant between the worker
    # reading VmHWM for `done` and stamping the event: allow 1 MiB for that race.
    peak = result["sections"]["peak"]
    assert 0 < peak["sampled_max_rss_bytes"] <= peak["vmhwm_bytes"] + 2**20
    assert result["targets"]["peak_error_bytes"]["met"] is True
    assert result["machine"]["cpu_count"] >= 1
    assert "| `monitor_overhead_ratio` |" in proc.stdout  # the table printed for the docs
