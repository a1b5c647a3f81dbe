"""`python -m diagnostics` against the FakeWorker: exit codes, messages, summary, --json contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diagnostics import sweep
from diagnostics.cli import main
from diagnostics.cli.sweep import parse_grid
from diagnostics.config import TrialConfig
from diagnostics.errors import ConfigError
from diagnostics.store import Store

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "fakes" / "fake_worker.py"


@pytest.fixture(autouse=True)
def fake_worker(diag_home, monkeypatch):
    monkeypatch.setenv("DIAG_TEST_WORKER", str(FAKE))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.1")


def test_run_completes_prints_a_summary_and_writes_the_json_contract(sample_data_dir, tmp_path, capsys):
    out = tmp_path / "out.json"
    code = main(
        ["run", str(sample_data_dir), "--loader", "keras_directory", "--epochs", "2", "--json", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 0
    for text in ("completed", "baseline", "peak", "overhead", "images/s", "epoch 1", "stored in"):
        assert text in printed
    doc = json.loads(out.read_text())
    assert {"run_id", "status", "config", "summary", "findings", "logs", "snippet"} <= set(doc)
    assert doc["status"] == "completed" and doc["config"]["epochs"] == 2
    for key in (
        "baseline_rss_bytes",
        "peak_rss_bytes",
        "images_per_second",
        "epochs",
        "samples",
        "fds",
        "gc",
    ):
        assert key in doc["summary"]
    assert [e["images"] for e in doc["summary"]["epochs"]] == [550, 550]


def test_only_given_flags_reach_the_config(sample_data_dir, diag_home):
    code = main(
        [
            "run",
            str(sample_data_dir),
            "--batch-size",
            "8",
            "--image-size",
            "64",
            "96",
            "--epochs",
            "1",
            "--memory-budget",
            "2GiB",
            "--timeout",
            "30",
        ]
    )
    assert code == 0
    config = Store(diag_home).get_run(1)["config"]
    assert config["batch_size"] == 8 and config["image_size"] == [64, 96]
    assert config["memory_budget_bytes"] == 2 * 1024**3 and config["timeout_seconds"] == 30.0
    assert config["cache"] == "none" and config["shuffle"] is False  # untouched defaults


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keep-decoded"], "--keep-decoded does not apply to loader keras_directory"),
        (["--cache", "disk"], "--cache must be one of none, memory, file"),
        (["--memory-budget", "lots"], "--memory-budget must be a size like 700MiB"),
        (["--loader", "magic"], "unknown loader 'magic'"),
        (["--prefetch", "-3"], "--prefetch must be none, auto or a positive integer"),
    ],
)
def test_bad_options_exit_2_naming_the_option(sample_data_dir, diag_home, capsys, args, message):
    code = main(["run", str(sample_data_dir), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert Store(diag_home).list_runs().empty  # refused before anything was stored


def test_missing_folder_exits_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "no such folder"
    assert main(["run", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert main(["scan", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_a_file_instead_of_a_folder_exits_2(tmp_path, capsys):
    target = tmp_path / "image.png"
    target.write_bytes(b"not really")
    assert main(["run", str(target)]) == 2
    err = capsys.readouterr().err
    assert "image.png" in err and "Traceback" not in err


def test_failed_trial_exits_3_with_summary_and_error(sample_data_dir, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("FAKE_MODE", "crash")
    out = tmp_path / "failed.json"
    assert main(["run", str(sample_data_dir), "--json", str(out)]) == 3
    printed = capsys.readouterr().out
    assert "failed" in printed and "scripted crash" in printed and "stored in" in printed
    assert json.loads(out.read_text())["status"] == "failed"


def test_budget_kill_exits_3(sample_data_dir, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_MODE", "grow")
    assert main(["run", str(sample_data_dir), "--memory-budget", "120MiB"]) == 3
    printed = capsys.readouterr().out
    assert "killed_budget" in printed and "memory budget exceeded" in printed


def test_timeout_exits_3(sample_data_dir, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_MODE", "hang")
    assert main(["run", str(sample_data_dir), "--timeout", "1"]) == 3
    assert "timed_out" in capsys.readouterr().out


def test_ctrl_c_cancels_the_trial(sample_data_dir, diag_home, tmp_path):
    import signal
    import time

    pid_file = tmp_path / "worker.pid"
    env = {**__import__("os").environ, "FAKE_MODE": "hang", "FAKE_PID_FILE": str(pid_file)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "diagnostics", "run", str(sample_data_dir)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 3, err.decode()
    assert "cancelled" in out.decode() and "Traceback" not in err.decode()
    assert Store(diag_home).get_run(1)["status"] == "cancelled"


def test_scan_prints_classes_and_json(sample_data_dir, capsys):
    assert main(["scan", str(sample_data_dir)]) == 0
    printed = capsys.readouterr().out
    assert "550 readable images in 5 classes" in printed and "circles" in printed
    assert main(["scan", str(sample_data_dir), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["num_images"] == 550 and len(doc["classes"]) == 5


def test_scan_names_bad_files(tmp_path, capsys):
    from PIL import Image

    good = tmp_path / "data" / "cats"
    good.mkdir(parents=True)
    Image.new("RGB", (32, 32), "red").save(good / "ok.png")
    (good / "empty.jpg").write_bytes(b"")
    (good / "notes.png").write_text("this is text")
    png = (good / "ok.png").read_bytes()
    (good / "cut.png").write_bytes(png[: len(png) // 2])
    assert main(["scan", str(tmp_path / "data")]) == 0
    printed = capsys.readouterr().out
    for name in ("empty.jpg", "notes.png", "cut.png"):
        assert name in printed


def test_report_of_unknown_run_exits_2(tmp_path, capsys):
    assert main(["report", "41", "--html", str(tmp_path / "r.html")]) == 2
    assert "no run 41" in capsys.readouterr().err


def test_grid_parsing():
    grid = parse_grid(
        [
            "batch-size=16,32",
            "cache=none,memory",
            "prefetch=auto,2",
            "image-size=64x64,128",
            "shuffle=true,false",
            "loader=keras_directory,tfdata_map_batch",
        ]
    )
    assert grid["batch_size"] == [16, 32]
    assert grid["cache"] == ["none", "memory"]
    assert grid["prefetch"] == ["auto", "2"]
    assert grid["image_size"] == [[64, 64], [128, 128]]
    assert grid["shuffle"] == [True, False]
    assert grid["loader"] == ["keras_directory", "tfdata_map_batch"]
    # (moved from test_sweep's test of sweep.parse_grid, a second --grid parser only tests used)
    assert parse_grid(["image_size=64,96x80"])["image_size"] == [[64, 64], [96, 80]]
    configs = sweep.expand(TrialConfig(dataset="sample_data"), parse_grid(["prefetch=none,2"]))
    assert {c.prefetch for c in configs} == {"none", 2}
    with pytest.raises(ConfigError, match="KEY=V1,V2"):
        parse_grid(["batch_size"])
    with pytest.raises(ConfigError, match="colour"):
        parse_grid(["colour=red"])
    with pytest.raises(ConfigError, match="batch-size=abc"):
        parse_grid(["batch-size=abc"])


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "sample_data", "--batch-size", "many"])
    assert exc.value.code == 2
    assert "--batch-size" in capsys.readouterr().err


def _dataset_with_bad_files(root: Path) -> Path:
    from PIL import Image

    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40, 30), (60 * i, 90, 10)).save(root / name / f"{i}.png")
    (root / "cats" / "zero.jpg").write_bytes(b"")
    (root / "dogs" / "text.png").write_text("not an image")
    return root


def test_bad_files_with_a_loader_that_cannot_skip_them_exit_2_naming_them(tmp_path, capsys, diag_home):
    data = _dataset_with_bad_files(tmp_path / "data")
    assert main(["run", str(data), "--loader", "keras_directory"]) == 2
    err = capsys.readouterr().err
    assert "cats/zero.jpg" in err and "dogs/text.png" in err and "keras_directory" in err
    assert "Traceback" not in err
    assert Store(diag_home).list_runs().empty


def test_bad_files_are_skipped_and_listed_by_a_loader_that_can(tmp_path, capsys):
    data = _dataset_with_bad_files(tmp_path / "data")
    out = tmp_path / "out.json"
    assert main(["run", str(data), "--loader", "tfdata_map_batch", "--epochs", "1", "--json", str(out)]) == 0
    assert "cats/zero.jpg" in capsys.readouterr().out
    assert {b["path"] for b in json.loads(out.read_text())["bad_files"]} == {"cats/zero.jpg", "dogs/text.png"}
