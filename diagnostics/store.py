"""SQLite persistence for runs, their samples, events and log lines, and sweeps.

One file, ``$DIAG_HOME/runs.sqlite`` (``DIAG_HOME`` defaults to ``./.diagnostics``), in WAL mode so
the dashboard can read while a runner writes. The schema version lives in ``PRAGMA user_version``
and ``_migrate`` brings an older file forward in place. JSON columns (config, scan, summary,
findings, log_groups, ...) go in as text and come out parsed; tables come out as pandas frames.

SQLite connections must not cross threads, and the dashboard calls in from many: each thread gets
its own connection (``threading.local``), opened lazily with a short busy timeout so a locked file
turns into a ``StoreError`` naming it instead of a hang.

Example:
    >>> store = Store()
    >>> run_id = store.create_run(config, scan)
    >>> store.add_samples(run_id, [{"t": 1.0, "rss_bytes": 123, ...}])
    >>> store.samples(run_id)  # DataFrame
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from diagnostics import throughput
from diagnostics.errors import StoreBusy, StoreError
from diagnostics.home import DEFAULT_HOME, diag_home

__all__ = [
    "ACTIVE_SWEEP_STATUSES",
    "DEFAULT_HOME",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "Store",
    "diag_home",
    "host_info",
    "process_create_time",
]

SCHEMA_VERSION = 5
BUSY_TIMEOUT_MS = 3000
RUN_STATUSES = (
    "queued",
    "running",
    "completed",
    "failed",
    "killed_budget",
    "timed_out",
    "cancelled",
    "interrupted",
)
ACTIVE_STATUSES = ("queued", "running")
# Sweeps: created -> running -> completed | failed | interrupted (stopped, or its process died).
ACTIVE_SWEEP_STATUSES = ("created", "running")

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

_SNAPSHOT_TABLES = ("pipeline", "composition")
_RUN_TABLES = ("samples", "events", "logs", *_SNAPSHOT_TABLES)


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    """Version 4: a run keeps ``dataset.scan_summary`` (bounded size), not the scan's file list,
    and ``scan_progress`` (verification progress while the run waits for it)."""
    from diagnostics.dataset import scan_summary

    conn.execute("ALTER TABLE runs ADD COLUMN scan_progress TEXT")
    rows = conn.execute("SELECT id, scan FROM runs WHERE scan IS NOT NULL").fetchall()
    for run_id, text in rows:
        try:
            old = json.loads(text)
        except ValueError:
            continue  # unreadable scan text: left as it was rather than lose the run
        if isinstance(old, dict):
            conn.execute("UPDATE runs SET scan = ? WHERE id = ?", (_dumps(scan_summary(old)), run_id))


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

# A step is SQL text (statements separated by ";") or a callable taking the connection, for
# steps that need Python (v3 -> v4 rewrites each run's scan).
_MIGRATIONS = {0: _SCHEMA_V1, 1: _V1_TO_V2, 2: _V2_TO_V3, 3: _v3_to_v4, 4: _V4_TO_V5}

_JSON_RUN_COLUMNS = (
    "config",
    "host",
    "versions",
    "scan",
    "summary",
    "findings",
    "log_groups",
    "scan_progress",
)
_RUN_UPDATABLE = frozenset(
    {
        "status",
        "error",
        "summary",
        "findings",
        "log_groups",
        "snippet",
        "versions",
        "worker_pid",
        "started",
        "finished",
        "t_ready",
        "t_started",
        "runner_pid",
        "runner_create_time",
        "memory_budget_bytes",
        "scan",
        "scan_progress",
        "config",
        "dataset_fingerprint",
        "host",
    }
)
_SWEEP_UPDATABLE = frozenset({"status", "summary", "name", "error", "owner_pid", "owner_create_time"})
SAMPLE_COLUMNS = (
    "t",
    "rss_bytes",
    "main_rss_bytes",
    "processes",
    "fds",
    "threads",
    "cpu_percent",
    "vmhwm_bytes",
)
# Config options list_runs copies out, so History and the CSV export tell runs of a sweep apart.
OPTION_COLUMNS = (
    "epochs",
    "steps",
    "batch_size",
    "image_size",
    "cache",
    "prefetch",
    "num_parallel_calls",
    "dtype",
    "shuffle",
)
_LIST_COLUMNS = [
    "id",
    "created",
    "status",
    "dataset_path",
    "loader",
    "mode",
    "peak_rss_bytes",
    "baseline_rss_bytes",
    "images_per_second",
    "leak_bytes_per_epoch",
    "sweep_id",
    "error",
    *OPTION_COLUMNS,
]


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


def _scan_summary(scan: Any) -> dict[str, Any] | None:
    """What a run keeps of a scan: its summary, whatever the folder's size (never the file list)."""
    if scan is None:
        return None
    from diagnostics.dataset import scan_summary

    return scan_summary(scan)


def _now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def host_info() -> dict[str, Any]:
    """This machine as a run records it (an executor records the node's)."""
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    try:
        import psutil

        info["total_ram_bytes"] = psutil.virtual_memory().total
    except Exception:  # host details are informative only
        pass
    return info


def process_create_time(pid: int | None = None) -> float | None:
    """Start time of process ``pid`` (default: this one); with the pid it names an owner process."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # psutil missing or the process gone: the liveness check then uses pid only
        return None


def _versions() -> dict[str, Any]:
    out = {"python": platform.python_version(), "pandas": pd.__version__}
    try:
        import psutil

        out["psutil"] = psutil.__version__
    except Exception:
        pass
    return out


class Store:
    """The runs database under one DIAG_HOME.

    Args:
        home: folder holding ``runs.sqlite`` (and the runner's ``trial.lock``); created if missing.
        busy_timeout_ms: how long a write waits for another writer before StoreError.

    Raises:
        StoreError: the file is not a SQLite database, is corrupt, locked for longer than the busy
            timeout, from a newer schema, or the folder cannot be created.
    """

    def __init__(self, home: str | os.PathLike | None = None, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.busy_timeout_ms = busy_timeout_ms
        self.home = diag_home(home).resolve()
        self.path = self.home / "runs.sqlite"
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.home}: {exc.strerror}") from None
        if self.home.is_file():
            raise StoreError(f"store folder {self.home} is a file")
        self._local = threading.local()
        # Two processes opening a new file at once (two CLI runs) can get SQLITE_BUSY without the
        # busy handler (the switch to WAL, a read lock upgraded to write): retry for the busy timeout.
        deadline = time.monotonic() + busy_timeout_ms / 1000
        while True:
            try:
                with self._errors():
                    migrate(self._conn(), self.path)
                break
            except StoreBusy:
                self.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    # -- connections and error mapping ---------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"store {self.path} could not switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = OFF")
            self._local.conn = conn
        return conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except sqlite3.OperationalError as exc:
            text = str(exc)
            # SQLITE_BUSY (5) and SQLITE_LOCKED (6), primary codes; only these are worth a retry.
            code = getattr(exc, "sqlite_errorcode", None)
            busy = (code & 0xFF) in (5, 6) if code is not None else ("locked" in text or "busy" in text)
            if busy:
                raise StoreBusy(
                    f"store {self.path} is locked by another process "
                    f"(waited {self.busy_timeout_ms / 1000:g} s): {text}"
                ) from None
            raise StoreError(f"store {self.path} cannot be used: {text}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"store {self.path} is corrupt or not a diagnostics database ({exc}); "
                f"move it aside or set DIAG_HOME to another folder"
            ) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._errors():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                # SQLite already rolled back after some errors (SQLITE_FULL): a second ROLLBACK
                # would fail and hide the real cause.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._errors():
            return self._conn().execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: "ok" for a sound file."""
        rows = self._query("PRAGMA integrity_check")
        return "; ".join(str(r[0]) for r in rows)

    def schema_version(self) -> int:
        return self._query("PRAGMA user_version")[0][0]

    # -- runs ----------------------------------------------------------------------------------

    def create_run(self, config: Any, scan: Any = None, sweep_id: int | None = None) -> int:
        """Insert a run with status ``queued``; returns its id.

        The calling process is recorded as the run's runner (pid and process start time), so
        ``runner.recover_interrupted`` can tell a live queue from one left by a dead process.
        """
        config_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        scan_dict = _scan_summary(scan)
        dataset_path = (scan_dict or {}).get("root") or config_dict.get("dataset")
        fingerprint = (scan_dict or {}).get("fingerprint")
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO runs (created, status, config, dataset_path, dataset_fingerprint, loader,"
                " mode, host, versions, scan, sweep_id, runner_pid, runner_create_time)"
                " VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now_iso(),
                    _dumps(config_dict),
                    dataset_path,
                    fingerprint,
                    config_dict.get("loader"),
                    config_dict.get("mode"),
                    _dumps(host_info()),
                    _dumps(_versions()),
                    _dumps(scan_dict),
                    sweep_id,
                    os.getpid(),
                    process_create_time(),
                ),
            )
            return int(cur.lastrowid)

    def update_run(self, run_id: int, **columns: Any) -> None:
        if "scan" in columns:
            columns["scan"] = _scan_summary(columns["scan"])
        if "config" in columns and hasattr(columns["config"], "to_dict"):
            columns["config"] = columns["config"].to_dict()
        unknown = sorted(set(columns) - _RUN_UPDATABLE)
        if unknown:
            raise ValueError(f"update_run: unknown column(s) {', '.join(unknown)}")
        if "status" in columns and columns["status"] not in RUN_STATUSES:
            raise ValueError(f"update_run: unknown status {columns['status']!r}")
        if not columns:
            return
        names = list(columns)
        values = [_dumps(columns[n]) if n in _JSON_RUN_COLUMNS else columns[n] for n in names]
        assignments = ", ".join(f"{n} = ?" for n in names)
        with self._write() as conn:
            conn.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*values, run_id))

    def get_run(self, run_id: int) -> dict[str, Any]:
        """Every column of the run, JSON columns parsed. StoreError if there is no such run."""
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"no run {run_id} in store {self.path}")
        return self._run_dict(rows[0])

    @staticmethod
    def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
        out = dict(row)
        for name in _JSON_RUN_COLUMNS:
            if name in out:
                out[name] = _loads(out[name])
        if "cancel_requested" in out:
            out["cancel_requested"] = bool(out["cancel_requested"])
        return out

    def runs(
        self, statuses: Iterable[str] | None = None, columns: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """Run dicts, oldest first, optionally only those with the given statuses.

        ``columns`` limits what is read (callers polling every second skip the large scan JSON).
        """
        names = ", ".join(columns) if columns is not None else "*"
        if statuses is None:
            rows = self._query(f"SELECT {names} FROM runs ORDER BY id")
        else:
            wanted = list(statuses)
            marks = ", ".join("?" for _ in wanted)
            rows = self._query(f"SELECT {names} FROM runs WHERE status IN ({marks}) ORDER BY id", wanted)
        return [self._run_dict(r) for r in rows]

    def list_runs(self, sweep_id: int | None = None) -> pd.DataFrame:
        """One row per run, newest first, with the headline numbers pulled out of the summary."""
        sql = "SELECT id, created, status, dataset_path, loader, mode, summary, sweep_id, error, config FROM runs"
        params: tuple = ()
        if sweep_id is not None:
            sql += " WHERE sweep_id = ?"
            params = (sweep_id,)
        rows = self._query(sql + " ORDER BY id DESC", params)
        records = []
        for row in rows:
            summary = _loads(row["summary"]) or {}
            records.append(
                {
                    "id": row["id"],
                    "created": row["created"],
                    "status": row["status"],
                    "dataset_path": row["dataset_path"],
                    "loader": row["loader"],
                    "mode": row["mode"],
                    "peak_rss_bytes": summary.get("peak_rss_bytes"),
                    "baseline_rss_bytes": summary.get("baseline_rss_bytes"),
                    "images_per_second": throughput.images_per_second(summary),
                    "leak_bytes_per_epoch": summary.get("leak_bytes_per_epoch"),
                    "sweep_id": row["sweep_id"],
                    "error": row["error"],
                    **_options(_loads(row["config"]) or {}),
                }
            )
        return pd.DataFrame.from_records(records, columns=_LIST_COLUMNS)

    def delete_run(self, run_id: int) -> None:
        with self._write() as conn:
            for table in _RUN_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def request_cancel(self, run_id: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run_id,))

    def cancel_requested(self, run_id: int) -> bool:
        rows = self._query("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,))
        return bool(rows and rows[0][0])

    def queue_position(self, run_id: int) -> int:
        """0 = running or next in line; n = n trials (queued or running) ahead of it.

        A run that is no longer queued or running has position 0 too.
        """
        rows = self._query("SELECT status FROM runs WHERE id = ?", (run_id,))
        if not rows or rows[0][0] != "queued":
            return 0
        ahead = self._query(
            "SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running') AND id < ?", (run_id,)
        )
        return int(ahead[0][0])

    def active_runs(self) -> list[dict[str, Any]]:
        """Runs queued or running, oldest first (the queue as the sidebar shows it)."""
        return self.runs(ACTIVE_STATUSES)

    # -- time series ---------------------------------------------------------------------------

    def add_samples(self, run_id: int, rows: Iterable[dict[str, Any]]) -> None:
        values = [
            (
                run_id,
                r["t"],
                r.get("rss_bytes"),
                r.get("main_rss_bytes"),
                _dumps(r.get("processes")),
                r.get("fds"),
                r.get("threads"),
                r.get("cpu_percent"),
                r.get("vmhwm_bytes"),
            )
            for r in rows
        ]
        if not values:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO samples (run_id, t, rss_bytes, main_rss_bytes, processes, fds, threads,"
                " cpu_percent, vmhwm_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def add_events(self, run_id: int, rows: Iterable[dict[str, Any]]) -> None:
        values = []
        for r in rows:
            data = {k: v for k, v in r.items() if k not in ("t", "kind")}
            values.append((run_id, r["t"], r["kind"], _dumps(data)))
        if not values:
            return
        with self._write() as conn:
            conn.executemany("INSERT INTO events (run_id, t, kind, data) VALUES (?, ?, ?, ?)", values)

    def add_logs(self, run_id: int, rows: Iterable[dict[str, Any]]) -> None:
        values = [(run_id, r["t"], r["stream"], r["line"]) for r in rows]
        if not values:
            return
        with self._write() as conn:
            conn.executemany("INSERT INTO logs (run_id, t, stream, line) VALUES (?, ?, ?, ?)", values)

    def _add_snapshots(self, table: str, run_id: int, rows: Iterable[dict[str, Any]]) -> None:
        values = []
        for r in rows:
            data = {k: v for k, v in r.items() if k not in ("t", "kind")}
            values.append((run_id, r["t"], _dumps(data)))
        if not values:
            return
        with self._write() as conn:
            conn.executemany(f"INSERT INTO {table} (run_id, t, data) VALUES (?, ?, ?)", values)

    def add_pipeline(self, run_id: int, rows: Iterable[dict[str, Any]]) -> None:
        """``pipeline`` events (dicts with "t" and the event's fields; "kind" is dropped)."""
        self._add_snapshots("pipeline", run_id, rows)

    def add_composition(self, run_id: int, rows: Iterable[dict[str, Any]]) -> None:
        """``composition`` events (dicts with "t" and the event's fields; "kind" is dropped)."""
        self._add_snapshots("composition", run_id, rows)

    def _snapshots(self, table: str, run_id: int) -> pd.DataFrame:
        rows = self._query(f"SELECT t, data FROM {table} WHERE run_id = ? ORDER BY t, rowid", (run_id,))
        return pd.DataFrame.from_records(
            [{"t": r["t"], "data": _loads(r["data"]) or {}} for r in rows], columns=["t", "data"]
        )

    def pipeline(self, run_id: int) -> pd.DataFrame:
        """The probe's tf.data snapshots: t, data (the pipeline event's fields as a dict)."""
        return self._snapshots("pipeline", run_id)

    def composition(self, run_id: int) -> pd.DataFrame:
        """The probe's memory composition snapshots: t, data (dict)."""
        return self._snapshots("composition", run_id)

    def samples(self, run_id: int) -> pd.DataFrame:
        rows = self._query(
            "SELECT t, rss_bytes, main_rss_bytes, processes, fds, threads, cpu_percent, vmhwm_bytes"
            " FROM samples WHERE run_id = ? ORDER BY t, rowid",
            (run_id,),
        )
        records = []
        for row in rows:
            record = dict(row)
            procs = _loads(record["processes"]) or {}
            record["processes"] = {int(pid): rss for pid, rss in procs.items()}
            records.append(record)
        return pd.DataFrame.from_records(records, columns=list(SAMPLE_COLUMNS))

    def events(self, run_id: int) -> pd.DataFrame:
        rows = self._query("SELECT t, kind, data FROM events WHERE run_id = ? ORDER BY t, rowid", (run_id,))
        records = [{"t": r["t"], "kind": r["kind"], "data": _loads(r["data"]) or {}} for r in rows]
        return pd.DataFrame.from_records(records, columns=["t", "kind", "data"])

    def logs(self, run_id: int) -> pd.DataFrame:
        rows = self._query("SELECT t, stream, line FROM logs WHERE run_id = ? ORDER BY t, rowid", (run_id,))
        return pd.DataFrame.from_records([dict(r) for r in rows], columns=["t", "stream", "line"])

    def counts(self, run_id: int) -> dict[str, int]:
        """Rows stored per table for a run (cheap; used by the live view and tests)."""
        out = {}
        for table in _RUN_TABLES:
            out[table] = int(self._query(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (run_id,))[0][0])
        return out

    # -- sweeps --------------------------------------------------------------------------------

    def create_sweep(self, name: str, grid: dict[str, list[Any]], base_config: Any) -> int:
        """Insert a sweep with status ``created``; returns its id.

        The calling process is recorded as the sweep's owner (pid and process start time), as
        ``create_run`` records a run's runner: the process that runs the sweep's trials.
        """
        base = base_config.to_dict() if hasattr(base_config, "to_dict") else dict(base_config)
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO sweeps (created, name, grid, base_config, owner_pid, owner_create_time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (_now_iso(), name, _dumps(grid), _dumps(base), os.getpid(), process_create_time()),
            )
            return int(cur.lastrowid)

    def update_sweep(self, sweep_id: int, **columns: Any) -> None:
        """Set a sweep's status ("created", "running", "completed", ...), name, summary (dict),
        error, owner_pid or owner_create_time."""
        unknown = sorted(set(columns) - _SWEEP_UPDATABLE)
        if unknown:
            raise ValueError(f"update_sweep: unknown column(s) {', '.join(unknown)}")
        if not columns:
            return
        names = list(columns)
        values = [_dumps(columns[n]) if n == "summary" else columns[n] for n in names]
        with self._write() as conn:
            conn.execute(
                f"UPDATE sweeps SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
                (*values, sweep_id),
            )

    def get_sweep(self, sweep_id: int) -> dict[str, Any]:
        rows = self._query("SELECT * FROM sweeps WHERE id = ?", (sweep_id,))
        if not rows:
            raise StoreError(f"no sweep {sweep_id} in store {self.path}")
        out = dict(rows[0])
        for name in ("grid", "base_config", "summary"):
            out[name] = _loads(out[name])
        out["run_ids"] = [
            r[0] for r in self._query("SELECT id FROM runs WHERE sweep_id = ? ORDER BY id", (sweep_id,))
        ]
        return out

    def active_sweeps(self) -> list[dict[str, Any]]:
        """Sweeps created or running, oldest first: id, name, status, owner_pid, owner_create_time."""
        marks = ", ".join("?" for _ in ACTIVE_SWEEP_STATUSES)
        rows = self._query(
            "SELECT id, name, status, owner_pid, owner_create_time FROM sweeps"
            f" WHERE status IN ({marks}) ORDER BY id",
            ACTIVE_SWEEP_STATUSES,
        )
        return [dict(r) for r in rows]

    def list_sweeps(self) -> pd.DataFrame:
        rows = self._query(
            "SELECT s.id, s.created, s.name, s.status, s.grid, COUNT(r.id) AS runs"
            " FROM sweeps s LEFT JOIN runs r ON r.sweep_id = s.id GROUP BY s.id ORDER BY s.id DESC"
        )
        records = [{**dict(r), "grid": _loads(r["grid"])} for r in rows]
        return pd.DataFrame.from_records(records, columns=["id", "created", "name", "status", "grid", "runs"])

    def sweep_runs(self, sweep_id: int) -> pd.DataFrame:
        """The sweep's runs as ``list_runs`` rows, oldest first."""
        return self.list_runs(sweep_id=sweep_id).sort_values("id").reset_index(drop=True)

    # -- the --json contract -------------------------------------------------------------------

    def run_json(self, run_id: int) -> dict[str, Any]:
        """The ``--json`` document of issue 2: run_id, status, config, summary, findings, logs,
        snippet (plus error, dataset_path, sweep_id and bad_files for context)."""
        run = self.get_run(run_id)
        logs = []
        for group in run.get("log_groups") or []:
            # The full group stays in the store; the contract keys come first and are always there.
            entry = {
                "template": group.get("template"),
                "count": group.get("count"),
                "level": group.get("level"),
                "source": group.get("source"),
                "known": bool(group.get("known", False)),
                "explanation": group.get("explanation"),
            }
            entry.update({k: v for k, v in group.items() if k not in entry})
            logs.append(entry)
        scan = run.get("scan") or {}
        return _clean(
            {
                "run_id": run["id"],
                "status": run["status"],
                "config": run["config"],
                "summary": _with_throughput(run.get("summary")),
                "findings": run.get("findings") or [],
                "logs": logs,
                "snippet": run.get("snippet") or "",
                "error": run.get("error"),
                "dataset_path": run.get("dataset_path"),
                "bad_files": scan.get("bad_files", []),
                "bad_files_total": scan.get("bad_files_total", len(scan.get("bad_files") or [])),
                "sweep_id": run.get("sweep_id"),
            }
        )


def _with_throughput(summary: dict[str, Any] | None) -> dict[str, Any]:
    """The summary with its throughput as ``diagnostics.throughput`` defines it (older runs stored
    the all-epoch mean as images_per_second), so the JSON export matches every other view."""
    if not summary:
        return {}
    rate = throughput.of_summary(summary)
    return {**summary, "images_per_second": rate["images_per_second"], "throughput": rate}


def _options(config: dict[str, Any]) -> dict[str, Any]:
    out = {name: config.get(name) for name in OPTION_COLUMNS}
    if isinstance(out["image_size"], (list, tuple)):
        out["image_size"] = "x".join(str(v) for v in out["image_size"])
    return out
