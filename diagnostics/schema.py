"""The runs database's layout: every schema version, the steps between them, and how a value is
stored as JSON text.

The schema version lives in ``PRAGMA user_version``; ``migrate`` brings an older file forward in
place, in one transaction, one step per version. A step is SQL text or a function of the
connection; a step that needs Python (v3 -> v4 rewrites each run's scan) keeps a frozen copy of
the code it needs, so it does not change when the modules it was written against do.
"""

from __future__ import annotations

import json
import math
import sqlite3
from bisect import bisect_left
from operator import itemgetter, mul
from pathlib import Path
from typing import Any

from diagnostics.errors import StoreError

__all__ = ["SCHEMA_VERSION", "migrate"]

SCHEMA_VERSION = 6

# Version 1: the first layout (runs without sweeps, snippet, log groups or runner identity).
_SCHEMA_V1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    dataset_path TEXT,
    dataset_fingerprint TEXT,
    loader TEXT,
    mode TEXT,
    host TEXT,
    versions TEXT,
    scan TEXT,
    summary TEXT,
    findings TEXT,
    error TEXT,
    worker_pid INTEGER,
    started REAL,
    finished REAL,
    t_ready REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE samples (
    run_id INTEGER NOT NULL,
    t REAL NOT NULL,
    rss_bytes INTEGER,
    main_rss_bytes INTEGER,
    processes TEXT,
    fds INTEGER,
    threads INTEGER,
    cpu_percent REAL,
    vmhwm_bytes INTEGER
);
CREATE INDEX samples_run ON samples(run_id, t);
CREATE TABLE events (
    run_id INTEGER NOT NULL,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT
);
CREATE INDEX events_run ON events(run_id, t);
CREATE TABLE logs (
    run_id INTEGER NOT NULL,
    t REAL NOT NULL,
    stream TEXT NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX logs_run ON logs(run_id, t);
"""

# Version 2: sweeps, snippet and log groups per run, and who runs it (pid + process start time, so
# a reused pid is not mistaken for a live runner).
_V1_TO_V2 = """
ALTER TABLE runs ADD COLUMN log_groups TEXT;
ALTER TABLE runs ADD COLUMN snippet TEXT;
ALTER TABLE runs ADD COLUMN sweep_id INTEGER;
ALTER TABLE runs ADD COLUMN runner_pid INTEGER;
ALTER TABLE runs ADD COLUMN runner_create_time REAL;
ALTER TABLE runs ADD COLUMN t_started REAL;
ALTER TABLE runs ADD COLUMN memory_budget_bytes INTEGER;
CREATE TABLE sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    name TEXT,
    grid TEXT NOT NULL,
    base_config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'created',
    summary TEXT
);
CREATE INDEX runs_sweep ON runs(sweep_id);
"""

# Version 3: the worker probe's snapshots (issue 11): tf.data pipeline nodes per live iterator and
# the process memory composition, each stored as t + JSON of the event's other fields.
_V2_TO_V3 = """
CREATE TABLE pipeline (run_id INTEGER NOT NULL, t REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX pipeline_run ON pipeline(run_id, t);
CREATE TABLE composition (run_id INTEGER NOT NULL, t REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX composition_run ON composition(run_id, t);
"""


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    """Version 4: a run keeps a scan summary (bounded size), not the scan's file list, and
    ``scan_progress`` (verification progress while the run waits for it)."""
    conn.execute("ALTER TABLE runs ADD COLUMN scan_progress TEXT")
    rows = conn.execute("SELECT id, scan FROM runs WHERE scan IS NOT NULL").fetchall()
    for run_id, text in rows:
        try:
            old = json.loads(text)
        except ValueError:
            continue  # unreadable scan text: left as it was rather than lose the run
        if isinstance(old, dict):
            conn.execute("UPDATE runs SET scan = ? WHERE id = ?", (_dumps(_v4_scan_summary(old)), run_id))


# Version 5: who runs a sweep (pid + process start time, as for runs), so a sweep whose process was
# killed stops reading "running", and why it ended. A sweep of an older store gets the runner of
# its newest run, the process that was running it.
_V4_TO_V5 = """
ALTER TABLE sweeps ADD COLUMN owner_pid INTEGER;
ALTER TABLE sweeps ADD COLUMN owner_create_time REAL;
ALTER TABLE sweeps ADD COLUMN error TEXT;
UPDATE sweeps SET
    owner_pid = (SELECT runner_pid FROM runs WHERE runs.sweep_id = sweeps.id ORDER BY runs.id DESC LIMIT 1),
    owner_create_time = (
        SELECT runner_create_time FROM runs WHERE runs.sweep_id = sweeps.id ORDER BY runs.id DESC LIMIT 1
    )
"""

# Version 6: the columns of issues 19-21, added at once. ``runs.group_id``: the runs of one config
# repeated (issue 21) share it, the id of the group's first run. ``runs.source``: a user pipeline
# or script run's code as it ran (JSON: kind, file, sha256, text, function, params, argv; issue
# 19). ``samples.pss_bytes``: the process tree's PSS, ``samples.pss_read``: 1 when read from
# smaps_rollup at that sample, 0 when carried forward by RSS changes (issue 20).
_V5_TO_V6 = """
ALTER TABLE runs ADD COLUMN group_id INTEGER;
ALTER TABLE runs ADD COLUMN source TEXT;
ALTER TABLE samples ADD COLUMN pss_bytes INTEGER;
ALTER TABLE samples ADD COLUMN pss_read INTEGER;
CREATE INDEX runs_group ON runs(group_id)
"""

# A step is SQL text (statements separated by ";") or a callable taking the connection, for
# steps that need Python (v3 -> v4 rewrites each run's scan).
_MIGRATIONS = {0: _SCHEMA_V1, 1: _V1_TO_V2, 2: _V2_TO_V3, 3: _v3_to_v4, 4: _V4_TO_V5, 5: _V5_TO_V6}


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema to SCHEMA_VERSION in one transaction; return the version found.

    The version is read under the write lock (BEGIN IMMEDIATE): two processes opening a new store
    at once (a CLI run and the dashboard) must not both create the tables.
    """
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found == SCHEMA_VERSION:
        return found  # the usual case: no write lock needed
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"store {path} has schema version {found}, newer than this program understands "
                f"({SCHEMA_VERSION}); upgrade the program or point DIAG_HOME elsewhere"
            )
        for version in range(found, SCHEMA_VERSION):
            step = _MIGRATIONS[version]
            if callable(step):
                step(conn)
                continue
            # One statement at a time: executescript would commit the open transaction first.
            for statement in step.split(";"):
                if statement.strip():
                    conn.execute(statement)
        if found != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, NumPy scalars plain numbers, tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _clean(value.to_dict())
    if hasattr(value, "item") and callable(value.item):
        return _clean(value.item())
    return value


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(_clean(value), sort_keys=True, allow_nan=False)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# -- frozen for the v3 -> v4 migration ---------------------------------------------------------------
# ``dataset.scan_summary`` and ``size_stats`` of a dict as they were when version 4 came: a
# migration must rewrite old rows the same way whatever the dataset package becomes later, so it
# keeps its own copy rather than import the dataset package.

_V4_SUMMARY_CAP = 50
_V4_SIDE_BINS = (0, 128, 256, 512, 1024, 2048, 4096)


def _v4_median(ordered: list[int]) -> float | None:
    if not ordered:
        return None
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _v4_size_stats(sizes: list[tuple[int, int]]) -> dict[str, Any]:
    widths = list(map(itemgetter(0), sizes))
    heights = list(map(itemgetter(1), sizes))
    longer = sorted(map(max, widths, heights))
    edges = [bisect_left(longer, edge) for edge in _V4_SIDE_BINS] + [len(longer)]
    histogram = [edges[i + 1] - edges[i] for i in range(len(_V4_SIDE_BINS))]
    sorted_widths, sorted_heights = sorted(widths), sorted(heights)
    return {
        "count": len(sizes),
        "width": {
            "min": sorted_widths[0] if sizes else None,
            "median": _v4_median(sorted_widths),
            "max": sorted_widths[-1] if sizes else None,
        },
        "height": {
            "min": sorted_heights[0] if sizes else None,
            "median": _v4_median(sorted_heights),
            "max": sorted_heights[-1] if sizes else None,
        },
        "mean_pixels": sum(map(mul, widths, heights)) / len(sizes) if sizes else None,
        "longer_side_bins": list(_V4_SIDE_BINS),
        "longer_side_counts": histogram,
    }


def _v4_scan_summary(data: dict[str, Any]) -> dict[str, Any]:
    """An old run's stored scan (with its file list) as the bounded summary version 4 keeps."""
    if "bad_files_total" in data and "files" not in data:
        return data  # already a summary
    sizes = data.get("sizes") or []
    bad = list(data.get("bad_files") or [])
    notes = list(data.get("notes") or [])
    return {
        "root": data.get("root"),
        "classes": list(data.get("classes") or []),
        "counts": dict(data.get("counts") or {}),
        "num_images": int(data.get("num_images") or 0),
        "num_files": int(data.get("num_images") or 0) + len(bad),
        "total_bytes": data.get("total_bytes"),
        "extensions": dict(data.get("extensions") or {}),
        "formats": dict(data.get("formats") or {}),
        "channel_modes": dict(data.get("channel_modes") or {}),
        "size_stats": _v4_size_stats(sizes) if sizes else data.get("size_stats"),
        "bad_files": bad[:_V4_SUMMARY_CAP],
        "bad_files_total": len(bad),
        "notes": notes[:_V4_SUMMARY_CAP],
        "notes_total": len(notes),
        "fingerprint": data.get("fingerprint"),
        "decoded_bytes_per_image": data.get("decoded_bytes_per_image"),
        "image_size": list(data.get("image_size") or (128, 128)),
        "color_mode": data.get("color_mode", "rgb"),
        "dtype": data.get("dtype", "float32"),
        "loader_skipped": [],
        "loader_skipped_total": 0,
        "loader_images": int(data.get("num_images") or 0),
    }
