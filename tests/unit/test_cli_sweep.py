"""Issue 22.4: a sweep says how long it should take before it starts, refuses one estimated past
the limit without ``--yes``, prints a line per trial, and on Ctrl-C says what was stored and how to
see it. FakeWorker trials (no TensorFlow)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diagnostics.cli import main
from diagnostics.store import Store

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "fakes" / "fake_worker.py"


@pytest.fixture(autouse=True)
def fake_worker(diag_home, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.05")


def test_a_sweep_prints_its_estimate_first_then_a_line_per_trial(sample_data_dir, capsys):
    code = main(["sweep", str(sample_data_dir), "--epochs", "1", "--grid", "batch-size=16,32"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert re.fullmatch(r"sweep: 2 trials, estimated \S+ s .*", lines[0]), lines[0]
    progress = [line for line in lines if line.startswith("trial ")]
    assert len(progress) == 2
    for index, batch in ((1, 16), (2, 32)):
        line = progress[index - 1]
        assert re.fullmatch(
            rf"trial {index}/2: batch-size={batch}: completed, [\d,.]+ img/s, peak [\d,.]+ MiB \(run \d+\)",
            line,
        ), line
    assert lines.index(progress[0]) < lines.index(progress[1])


def test_a_sweep_estimated_past_the_limit_needs_yes(sample_data_dir, diag_home, capsys):
    sizes = ",".join(str(n) for n in range(1, 81))  # 80 trials of 3 epochs: about 33 min unmeasured
    code = main(["sweep", str(sample_data_dir), "--grid", f"batch-size={sizes}"])
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(r"estimated to take \d+ min \d+ s", err), err
    assert "80 trials" in err and "30 min" in err and "--yes" in err
    assert Store(diag_home).list_sweeps().empty and Store(diag_home).list_runs().empty  # nothing ran


def test_the_limit_is_said_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--yes" in text and "more than 30 min" in text


def test_yes_starts_a_sweep_past_the_limit(sample_data_dir, monkeypatch, capsys):
    from diagnostics.cli import sweep as sweep_command

    monkeypatch.setattr(sweep_command, "CONFIRM_ABOVE_SECONDS", 1.0)  # any sweep is "long" now
    argv = ["sweep", str(sample_data_dir), "--epochs", "1", "--grid", "batch-size=16,32"]
    assert main(argv) == 2
    assert main([*argv, "--yes"]) == 0
    assert "trial 2/2" in capsys.readouterr().out


def test_ctrl_c_says_what_was_stored_and_how_to_see_it(sample_data_dir, diag_home):
    env = {**os.environ, "FAKE_EPOCH_SECONDS": "0.4"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "diagnostics", "sweep", str(sample_data_dir), "--epochs", "2"]
        + ["--grid", "batch-size=8,16,32,64"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the first trial's line, then Ctrl-C during the second
        line = proc.stdout.readline()
        seen.append(line)
        if line.startswith("trial 1/4"):
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    store = Store(diag_home)
    (sweep_id,) = list(store.list_sweeps()["id"])
    runs = store.list_runs(sweep_id=sweep_id)
    completed = sorted(int(r) for r in runs[runs["status"] == "completed"]["id"])
    assert completed and "cancelled" in set(runs["status"])
    assert f"sweep {sweep_id} interrupted" in err
    assert f"{len(completed)} of 4 trials completed" in err
    assert f"python -m diagnostics report {' '.join(map(str, completed))} --html" in err
    assert str(store.path) in err
