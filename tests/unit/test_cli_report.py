"""Issue 22.8 and 22.10: ``report`` shows a killed runner's run as interrupted, not "Status
running": it recovers the store first, and a store it cannot write (a read-only mount) is read
without writing, with the run's honest state from ``recover.ended_runs``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from diagnostics.cli import main
from diagnostics.config import TrialConfig
from diagnostics.errors import StoreError
from diagnostics.report import render_html
from diagnostics.store import Store

REPO = Path(__file__).resolve().parents[2]


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


def _chmod_read_only(folder: Path) -> dict[Path, int]:
    modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return modes


def _bind_mount_read_only(folder: Path, mount: Path) -> bool:
    mount.mkdir()
    if subprocess.run(["mount", "--bind", str(folder), str(mount)], capture_output=True).returncode:
        mount.rmdir()
        return False  # no CAP_SYS_ADMIN (an unprivileged container)
    subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True)
    return True


@contextlib.contextmanager
def _read_only(folder: Path):
    """(the store folder on a read-only view, the command prefix to run the CLI with).

    Not root: write permission removed. Root ignores permissions: a read-only bind mount, or where
    mounting is not allowed, permissions removed and the CLI run as nobody."""
    if os.geteuid() == 0:
        mount = folder.parent / (folder.name + "-ro")
        if _bind_mount_read_only(folder, mount):
            try:
                with pytest.raises(OSError):
                    (mount / "probe").write_text("x")  # really read-only, for root too
                yield mount, []
            finally:
                subprocess.run(["umount", "--lazy", str(mount)], check=True)  # a connection may be open
                mount.rmdir()
            return
    modes = _chmod_read_only(folder)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    try:
        yield folder, nobody
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def test_report_reads_a_store_on_a_read_only_mount():
    base = Path(tempfile.mkdtemp(prefix="diag-ro-"))  # outside pytest's 0700 tmp: nobody may enter
    try:
        base.chmod(0o777)
        home = base / "store"
        run_id = _killed_run(home)
        out = base / "report.html"
        with _read_only(home) as (read_only, prefix):
            result = subprocess.run(
                [*prefix, sys.executable, "-m", "diagnostics", "report", str(run_id), "--html", str(out)],
                cwd=REPO,
                env={**os.environ, "DIAG_HOME": str(read_only)},
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert result.returncode == 0, result.stderr
        assert "read-only" in result.stderr  # says the recovery was not recorded
        assert "Status <b>interrupted</b>" in out.read_text()
        assert Store(home).get_run(run_id)["status"] == "running"
    finally:
        shutil.rmtree(base, ignore_errors=True)
