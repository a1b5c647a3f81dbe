from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from diagnostics.config import TrialConfig
from diagnostics.errors import StoreBusy, StoreError
from diagnostics.export import run_json
from diagnostics.schema import _MIGRATIONS, _SCHEMA_V1, SCHEMA_VERSION
from diagnostics.store import Store

REPO = Path(__file__).resolve().parents[2]

SCAN = {
    "root": "/data/flowers",
    "fingerprint": "abc123",
    "classes": ["a", "b"],
    "bad_files": [{"path": "a/broken.jpg", "reason": "truncated JPEG"}],
    "num_images": 10,
}


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "home")


def _config(**changes):
    return TrialConfig(dataset="sample_data", **changes)


def test_round_trip_run_samples_events_logs(store):
    config = _config(cache="memory", image_size=(64, 96))
    run_id = store.create_run(config, SCAN)
    run = store.get_run(run_id)
    assert run["status"] == "queued"
    assert TrialConfig.from_dict(run["config"]) == config
    assert run["scan"]["fingerprint"] == "abc123"
    assert run["dataset_path"] == "/data/flowers"
    assert run["loader"] == "keras_directory" and run["mode"] == "iterate"
    assert run["host"]["hostname"] and run["versions"]["python"]

    store.add_samples(
        run_id,
        [
            {
                "t": 10.0,
                "rss_bytes": 300,
                "main_rss_bytes": 200,
                "processes": {41: 200, 42: 100},
                "fds": 7,
                "threads": 3,
                "cpu_percent": 50.0,
                "vmhwm_bytes": 210,
            },
            {
                "t": 10.02,
                "rss_bytes": 310,
                "main_rss_bytes": 210,
                "processes": {41: 210, 42: 100},
                "fds": 8,
                "threads": 3,
                "cpu_percent": 75.0,
                "vmhwm_bytes": 215,
            },
        ],
    )
    store.add_events(
        run_id,
        [
            {"kind": "ready", "t": 9.9, "pid": 41, "rss_bytes": 190},
            {"kind": "done", "t": 11.0, "vmhwm_bytes": 215, "rss_bytes": 205},
        ],
    )
    store.add_logs(run_id, [{"t": 10.5, "stream": "stderr", "line": "W0000 something"}])

    samples = store.samples(run_id)
    assert list(samples["rss_bytes"]) == [300, 310]
    assert samples["processes"][1] == {41: 210, 42: 100}  # pid keys come back as ints
    events = store.events(run_id)
    assert list(events["kind"]) == ["ready", "done"]
    assert events["data"][1] == {"vmhwm_bytes": 215, "rss_bytes": 205}
    logs = store.logs(run_id)
    assert logs.iloc[0].to_dict() == {"t": 10.5, "stream": "stderr", "line": "W0000 something"}
    assert store.counts(run_id) == {"samples": 2, "events": 2, "logs": 1, "pipeline": 0, "composition": 0}

    store.update_run(
        run_id,
        status="completed",
        summary={"peak_rss_bytes": 215, "images_per_second": 99.5, "ratio": float("nan")},
    )
    listed = store.list_runs()
    assert listed.loc[0, "peak_rss_bytes"] == 215 and listed.loc[0, "status"] == "completed"
    assert store.get_run(run_id)["summary"]["ratio"] is None  # NaN stored as null, valid JSON


def test_json_contract_keys(store):
    run_id = store.create_run(_config(), SCAN)
    group = {
        "template": "W <n> cache partial read",
        "count": 2,
        "level": "warning",
        "source": "cache_dataset_ops.cc",
        "known": True,
        "benign": True,
        "explanation": "explained",
        "per_epoch": [1, 1],
        "times": [1.0, 2.0],
    }
    finding = {
        "id": "cache_growth",
        "severity": "warning",
        "title": "t",
        "detail": "d",
        "advice": "a",
        "evidence": {},
    }
    store.update_run(
        run_id,
        status="completed",
        summary={"peak_rss_bytes": 1, "epochs": []},
        findings=[finding],
        log_groups=[group],
        snippet="import tensorflow as tf\n",
    )
    doc = run_json(store, run_id)
    for key in ("run_id", "status", "config", "summary", "findings", "logs", "snippet"):
        assert key in doc
    assert doc["run_id"] == run_id and doc["status"] == "completed"
    assert doc["findings"] == [finding]
    assert doc["snippet"].startswith("import tensorflow")
    log = doc["logs"][0]
    assert {"template", "count", "level", "source", "known", "explanation"} <= set(log)
    assert log["known"] is True and log["count"] == 2
    assert doc["bad_files"] == SCAN["bad_files"]


def test_json_contract_for_a_queued_run_has_empty_parts(store):
    doc = run_json(store, store.create_run(_config(), SCAN))
    assert doc["summary"] == {} and doc["findings"] == [] and doc["logs"] == [] and doc["snippet"] == ""


def test_update_rejects_unknown_columns_and_statuses(store):
    run_id = store.create_run(_config(), SCAN)
    with pytest.raises(ValueError, match="bogus"):
        store.update_run(run_id, bogus=1)
    with pytest.raises(ValueError, match="exploded"):
        store.update_run(run_id, status="exploded")


def test_queue_position_cancel_and_delete(store):
    first = store.create_run(_config(), SCAN)
    second = store.create_run(_config(), SCAN)
    third = store.create_run(_config(), SCAN)
    store.update_run(first, status="running")
    assert [store.queue_position(r) for r in (first, second, third)] == [0, 1, 2]
    store.update_run(first, status="completed")
    assert [store.queue_position(r) for r in (second, third)] == [0, 1]
    assert not store.cancel_requested(third)
    store.request_cancel(third)
    assert store.cancel_requested(third)
    store.add_samples(second, [{"t": 1.0, "rss_bytes": 1}])
    store.delete_run(second)
    assert second not in set(store.list_runs()["id"])
    assert store.samples(second).empty
    with pytest.raises(StoreError, match=f"no run {second}"):
        store.get_run(second)


def test_sweeps(store):
    sweep_id = store.create_sweep(
        "batch x cache", {"batch_size": [16, 32], "cache": ["none", "memory"]}, _config()
    )
    run_id = store.create_run(_config(batch_size=16), SCAN, sweep_id=sweep_id)
    sweep = store.get_sweep(sweep_id)
    assert sweep["grid"]["cache"] == ["none", "memory"] and sweep["run_ids"] == [run_id]
    assert sweep["base_config"]["dataset"] == "sample_data"
    store.update_sweep(sweep_id, status="completed", summary={"recommended_run_id": run_id})
    assert store.get_sweep(sweep_id)["summary"] == {"recommended_run_id": run_id}
    listed = store.list_sweeps()
    assert listed.loc[0, "runs"] == 1 and listed.loc[0, "status"] == "completed"
    assert list(store.list_runs(sweep_id=sweep_id)["id"]) == [run_id]


def test_migrates_a_version_1_file_and_keeps_its_runs(tmp_path):
    home = tmp_path / "old"
    home.mkdir()
    conn = sqlite3.connect(home / "runs.sqlite")
    conn.executescript(_SCHEMA_V1)
    conn.execute(
        "INSERT INTO runs (created, status, config, loader) VALUES ('2024-01-01', 'completed', ?, 'eager_loop')",
        ('{"dataset": "d", "loader": "eager_loop"}',),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    store = Store(home)
    assert store.schema_version() == SCHEMA_VERSION
    old = store.get_run(1)
    assert old["status"] == "completed" and old["log_groups"] is None and old["sweep_id"] is None
    store.update_run(1, snippet="x = 1")  # a v2 column now exists
    assert store.get_sweep(store.create_sweep("s", {}, {"dataset": "d"}))["name"] == "s"
    assert store.integrity_check() == "ok"


def test_a_version_4_store_opens_and_its_sweeps_get_their_runner_as_owner(tmp_path):
    home = tmp_path / "v4"
    home.mkdir()
    conn = sqlite3.connect(home / "runs.sqlite", isolation_level=None)
    for version in range(4):  # the layout version 4 programs wrote
        step = _MIGRATIONS[version]
        step(conn) if callable(step) else conn.executescript(step)
    conn.execute(
        "INSERT INTO sweeps (created, name, grid, base_config, status) VALUES ('2026-01-01', 'old', '{}', '{}', 'running')"
    )
    for pid, created in ((111, 5.0), (222, 6.0)):
        conn.execute(
            "INSERT INTO runs (created, status, config, sweep_id, runner_pid, runner_create_time)"
            " VALUES ('2026-01-01', 'completed', '{}', 1, ?, ?)",
            (pid, created),
        )
    conn.execute("PRAGMA user_version = 4")
    conn.close()

    store = Store(home)
    assert store.schema_version() == SCHEMA_VERSION
    sweep = store.get_sweep(1)
    assert (sweep["owner_pid"], sweep["owner_create_time"]) == (222, 6.0)  # the newest run's runner
    assert sweep["status"] == "running" and sweep["error"] is None and sweep["run_ids"] == [1, 2]
    assert [s["id"] for s in store.active_sweeps()] == [1]
    assert store.integrity_check() == "ok"


def test_a_sweep_records_the_process_that_created_it(store):
    sweep = store.get_sweep(store.create_sweep("s", {"batch_size": [16]}, _config()))
    assert sweep["owner_pid"] == os.getpid()
    assert abs(sweep["owner_create_time"] - psutil.Process().create_time()) < 1.0


def test_newer_schema_is_refused_with_the_file_named(tmp_path):
    home = tmp_path / "new"
    home.mkdir()
    conn = sqlite3.connect(home / "runs.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="runs.sqlite.*newer"):
        Store(home)


def test_corrupt_file_gives_store_error_naming_it(tmp_path):
    home = tmp_path / "bad"
    home.mkdir()
    (home / "runs.sqlite").write_bytes(b"this is not sqlite at all " * 200)
    with pytest.raises(StoreError, match=r"runs\.sqlite is corrupt"):
        Store(home)


def test_locked_store_gives_store_error_naming_it(tmp_path):
    home = tmp_path / "locked"
    store = Store(home, busy_timeout_ms=200)
    run_id = store.create_run(_config(), SCAN)
    holder = sqlite3.connect(home / "runs.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match=r"runs\.sqlite is locked"):
            store.update_run(run_id, status="running")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.update_run(run_id, status="running")  # usable again once the lock is gone
    assert store.get_run(run_id)["status"] == "running"


def test_a_short_busy_timeout_gives_up_on_a_lock_at_once_and_still_reads(tmp_path):
    store = Store(tmp_path / "locked", busy_timeout_ms=3000)
    run_id = store.create_run(_config(), SCAN)
    quick = store.with_busy_timeout(50)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy, match=r"waited 0\.05 s"):
            quick.add_samples(run_id, [{"t": 1.0, "rss_bytes": 1}])
        assert time.monotonic() - started < 1.0
        assert quick.get_run(run_id)["status"] == "queued"  # WAL: readers never wait on a writer
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    quick.add_samples(run_id, [{"t": 1.0, "rss_bytes": 1}])
    assert store.busy_timeout_ms == 3000 and len(store.samples(run_id)) == 1


def test_store_home_that_is_a_file(tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    with pytest.raises(StoreError, match="afile"):
        Store(target)


def test_connections_are_per_thread(store):
    import threading

    run_id = store.create_run(_config(), SCAN)
    errors = []

    def write(i):
        try:
            store.add_logs(run_id, [{"t": float(i), "stream": "stdout", "line": f"line {i}"}])
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.logs(run_id)) == 8


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path):
    # A CLI run and the dashboard may create the same new store together: exactly one migrates.
    # Before the open retried, about 1 pair in 40 got "database is locked" at once (SQLite skips
    # the busy handler there), so a few new stores with a few processes each.
    code = "import sys; from diagnostics.store import Store; Store(sys.argv[1])"
    for round_ in range(6):
        home = tmp_path / str(round_)
        procs = [
            subprocess.Popen([sys.executable, "-c", code, str(home)], cwd=REPO, stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()
        assert Store(home).schema_version() == SCHEMA_VERSION


def test_history_reads_sweep_runs_apart_by_the_options_that_differ(store):
    # issue 13 item 11: History had no option columns, so the runs of a sweep read alike.
    from diagnostics import views

    for batch, cache in ((32, "none"), (64, "none"), (32, "memory")):
        store.create_run(_config(batch_size=batch, cache=cache))
    runs = store.list_runs()
    assert {"batch_size", "cache", "prefetch", "dtype", "image_size"} <= set(runs.columns)
    table = views.history.history_table(runs)
    assert "batch_size" in table.columns and "cache" in table.columns
    assert "dtype" not in table.columns  # the same in every run: no column
    assert list(table["batch_size"]) == [32, 64, 32] and list(table["cache"]) == ["memory", "none", "none"]


def test_a_sample_of_an_exiting_worker_stored_by_an_older_sampler_is_not_read(store):
    # Before the sampler left exiting processes out, a run could end on a sample read while the
    # kernel freed the worker's memory: 0 bytes for the worker (and for a child exiting with it).
    run_id = store.create_run(_config(cache="memory", shuffle=True), SCAN)
    live = {"rss_bytes": 900, "main_rss_bytes": 800, "processes": {41: 800, 42: 100}, "fds": 7}
    store.add_samples(
        run_id,
        [
            {"t": 1.0, **live},
            {"t": 2.0, **live, "rss_bytes": 800, "processes": {41: 800, 42: 0}},
            {"t": 3.0, **live, "rss_bytes": 0, "main_rss_bytes": 0, "processes": {41: 0}},
        ],
    )
    samples = store.samples(run_id)
    assert list(samples["t"]) == [1.0, 2.0]
    assert samples["rss_bytes"].min() > 0
    assert samples["processes"].iloc[1] == {41: 800}  # the exiting child is left out, as gone


def test_v6_columns_round_trip_group_source_and_tree_pss(tmp_path):
    store = Store(tmp_path)
    run_id = store.create_run(TrialConfig(dataset="sample_data"))
    source = {
        "kind": "function",
        "file": "/x/pipe.py",
        "sha256": "ab",
        "text": "def f(): ...",
        "function": "f",
    }
    store.update_run(run_id, group_id=run_id, source=source)
    run = store.get_run(run_id)
    assert run["group_id"] == run_id and run["source"] == source
    store.add_samples(
        run_id, [{"t": 1.0, "rss_bytes": 5, "pss_bytes": 3, "pss_read": True}, {"t": 2.0, "rss_bytes": 6}]
    )
    frame = store.samples(run_id)
    assert list(frame["pss_read"].fillna(-1)) == [1, -1] and frame["pss_bytes"].iloc[0] == 3
