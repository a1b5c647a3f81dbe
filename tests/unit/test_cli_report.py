"""Issue 22.8 and 22.10: ``report`` shows a killed runner's run as interrupted, not "Status
running": it recovers the store first, and a store it cannot write (a read-only mount) is read
without writing, with the run's honest state from ``recover.ended_runs``."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from diagnostics.cli import main
from diagnostics.config import TrialConfig
from diagnostics.errors import StoreError
from diagnostics.report import render_html
from diagnostics.store import Store


def _killed_run(home: Path) -> int:
    store = Store(home)
    run_id = store.create_run(TrialConfig(dataset="sample_data"))
    # pid 1 with another start time: the runner that owned the run is gone (killed, even by SIGKILL)
    store.update_run(run_id, status="running", runner_pid=1, runner_create_time=1.0)
    store.close()
    return run_id


def test_report_recovers_a_killed_runners_run_first(diag_home, tmp_path, capsys):
    run_id = _killed_run(diag_home)
    out = tmp_path / "report.html"
    assert main(["report", str(run_id), "--html", str(out)]) == 0
    html = out.read_text()
    assert "Status <b>interrupted</b>" in html and "Status <b>running</b>" not in html
    assert Store(diag_home).get_run(run_id)["status"] == "interrupted"  # recorded, as run/sweep do


def test_a_read_only_store_is_read_without_writing(diag_home):
    # SQLite's mode=ro refuses every write whoever the user is (root too): the check holds as root.
    run_id = _killed_run(diag_home)
    before = (diag_home / "runs.sqlite").read_bytes()
    store = Store(diag_home, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        store.update_run(run_id, status="completed")
    html = render_html(store, [run_id])
    assert "Status <b>interrupted</b>" in html  # ended_runs' state, shown without writing it
    store.close()
    assert (diag_home / "runs.sqlite").read_bytes() == before
    assert Store(diag_home).get_run(run_id)["status"] == "running"  # nothing was written


@contextlib.contextmanager
def _read_only(folder: Path):
    """The folder as a read-only mount: a read-only bind mount as root (chmod does not stop root),
    else write permission removed."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield folder
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    mount = folder.parent / (folder.name + "-ro")
    mount.mkdir()
    subprocess.run(["mount", "--bind", str(folder), str(mount)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True)
        with pytest.raises(OSError):
            (mount / "probe").write_text("x")  # really read-only
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)  # a connection may be open
        mount.rmdir()


def test_report_reads_a_store_on_a_read_only_mount(tmp_path, monkeypatch, capsys):
    home = tmp_path / "store"
    run_id = _killed_run(home)
    out = tmp_path / "report.html"
    with _read_only(home) as read_only:
        monkeypatch.setenv("DIAG_HOME", str(read_only))
        code = main(["report", str(run_id), "--html", str(out)])
        err = capsys.readouterr().err
    assert code == 0, err
    assert "read-only" in err  # says the recovery was not recorded
    assert "Status <b>interrupted</b>" in out.read_text()
    assert Store(home).get_run(run_id)["status"] == "running"
