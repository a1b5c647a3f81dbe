"""Issue 13, items 3-5: the dashboard's run states and queue are true, and a corrupt store is a message.

AppTest through app.py (as tests/app/test_pages_smoke.py); CLI runs are real subprocesses running the
FakeWorker, killed with real signals.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from diagnostics import queries
from diagnostics.store import Store
from tests.processes import wait_for
from tests.store_damage import corrupt_table_root
from tests.synthetic import fill_store, run_row

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "sample_data"
FAKE_WORKER = REPO / "tests" / "fakes" / "fake_worker.py"
PAGES = ["pages/run.py", "pages/compare.py", "pages/sweep.py", "pages/history.py", "pages/dataset.py"]
if (REPO / "pages" / "scenarios.py").exists():
    PAGES.append("pages/scenarios.py")


def app_at(page: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


def _sidebar_texts(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in [*at.sidebar.markdown, *at.sidebar.caption])


def test_a_killed_cli_runner_shows_as_interrupted_without_cancel(home, tmp_path):
    pid_file = tmp_path / "worker.pid"
    runner = subprocess.Popen(
        [sys.executable, "-m", "diagnostics", "run", str(SAMPLE_DATA)],
        cwd=REPO,
        env={
            **os.environ,
            "DIAG_TEST_WORKER": str(FAKE_WORKER),
            "FAKE_MODE": "hang",
            "FAKE_PID_FILE": str(pid_file),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 30, "the worker")
        at = app_at("pages/run.py")
        assert "Running" in _texts(at)
        assert [b for b in at.button if b.key == "run_cancel"], "a live run offers Cancel"
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    at.run()  # the next refresh
    assert not at.exception, [e.message for e in at.exception]
    texts = _texts(at)
    assert "Interrupted" in texts and "· Running" not in texts, texts
    assert not [b for b in at.button if b.key == "run_cancel"]
    assert "No trial running" in _sidebar_texts(at)
    (run,) = Store(home).runs()
    assert run["status"] == "interrupted"


def test_a_queued_run_is_not_starting_the_worker(home):
    store = Store(home)
    running = run_row(store, "running", ready=True)
    queued = run_row(store, "queued")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page("pages/run.py")
    at.query_params["run"] = str(queued)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    texts = _texts(at)
    assert "1 trial ahead" in texts and "Starting the worker" not in texts, texts
    sidebar = _sidebar_texts(at)
    assert f"#{running} keras_directory: running" in sidebar
    assert f"#{queued} keras_directory: queued, 1 trial ahead" in sidebar


def _corrupt(path: Path, table: str | None) -> None:
    if table is None:
        path.write_bytes(b"this is not a database" * 300)
        for side in ("-wal", "-shm"):
            Path(f"{path}{side}").unlink(missing_ok=True)
        return
    corrupt_table_root(path, table)


@pytest.mark.parametrize("damage", [None, "runs"], ids=["not_a_database", "runs_table"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_a_corrupt_store_as_a_message(home, page, damage):
    store = Store(home)
    fill_store(store, str(SAMPLE_DATA), runs=2)
    store.close()
    _corrupt(home / "runs.sqlite", damage)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error] + [e.value for e in at.sidebar.error]
    assert any(str(home / "runs.sqlite") in e for e in errors), errors


def _sweep_statuses(store: Store) -> list[str]:
    return [r["status"] for r in store.runs(columns=("id", "status"))]


def test_a_killed_cli_sweep_reads_as_interrupted_and_keeps_its_finished_trials(home):
    """kill -9 of the CLI mid-sweep: the Sweep page and the store must not say "running" forever."""
    sweep_cli = subprocess.Popen(
        [
            sys.executable, "-m", "diagnostics", "sweep", str(SAMPLE_DATA), "--loader", "tfdata_map_batch",
            "--epochs", "2", "--grid", "batch_size=16,32,64",
        ],
        cwd=REPO,
        env={**os.environ, "DIAG_TEST_WORKER": str(FAKE_WORKER), "FAKE_EPOCH_SECONDS": "1.0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    store = Store(home)
    try:
        # One trial finished, the next one running: the moment a killed sweep leaves behind.
        wait_for(
            lambda: "completed" in (s := _sweep_statuses(store)) and s[-1] == "running",
            120,
            "a finished trial and a running one",
        )
        (sweep_id,) = [int(i) for i in store.list_sweeps()["id"]]
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
        at.switch_page("pages/sweep.py")
        at.session_state["sweep_id"] = sweep_id
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert "sweep running" in _progress_texts(at), _progress_texts(at)
    finally:
        sweep_cli.send_signal(signal.SIGKILL)
        sweep_cli.wait()
    at.run()  # the next refresh of the open sweep
    assert not at.exception, [e.message for e in at.exception]
    progress = _progress_texts(at)
    assert "sweep interrupted" in progress and "sweep running" not in progress, progress
    assert "process running this sweep ended" in _texts(at), _texts(at)
    assert "No trial running" in _sidebar_texts(at)
    assert "interrupted" in at.selectbox(key="sweep_open").options[0]  # the stored sweeps' list
    sweep = queries.live_sweep(store, sweep_id)
    assert sweep["status"] == "interrupted"
    assert "process running this sweep ended" in sweep["error"], sweep["error"]
    statuses = _sweep_statuses(store)
    assert statuses[-1] == "interrupted" and "completed" in statuses, statuses  # finished trials stay
    assert store.get_sweep(sweep_id)["status"] == "interrupted"  # stored, not only shown


def _progress_texts(at: AppTest) -> str:
    return "\n".join(str(p.proto.text) for p in at.get("progress"))
