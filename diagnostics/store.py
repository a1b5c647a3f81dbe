"""SQLite persistence for runs, their samples, events and log lines, and sweeps.

One file, ``$DIAG_HOME/runs.sqlite`` (``DIAG_HOME`` defaults to ``./.diagnostics``), in WAL mode so
the dashboard can read while a runner writes. The schema version lives in ``PRAGMA user_version``
and ``schema.migrate`` brings an older file forward in place. JSON columns (config, scan, summary,
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

import copy
import datetime as _dt
import os
import platform
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from diagnostics import throughput
from diagnostics.errors import StoreBusy, StoreError
from diagnostics.home import DEFAULT_HOME, diag_home
from diagnostics.host import host_info
from diagnostics.process import process_create_time
from diagnostics.schema import SCHEMA_VERSION, _dumps, _loads, migrate
from diagnostics.status import ACTIVE_STATUSES, ACTIVE_SWEEP_STATUSES, RUN_STATUSES

__all__ = ["DEFAULT_HOME", "OPTION_COLUMNS", "SAMPLE_COLUMNS", "Store", "diag_home"]

BUSY_TIMEOUT_MS = 3000

_SNAPSHOT_TABLES = ("pipeline", "composition")
_RUN_TABLES = ("samples", "events", "logs", *_SNAPSHOT_TABLES)

_JSON_RUN_COLUMNS = (
    "config",
    "host",
    "versions",
    "scan",
    "summary",
    "findings",
    "log_groups",
    "scan_progress",
    "source",
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
        "group_id",
        "source",
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
    "pss_bytes",
    "pss_read",
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


def _scan_summary(scan: Any) -> dict[str, Any] | None:
    """What a run keeps of a scan: its summary, whatever the folder's size (never the file list)."""
    if scan is None:
        return None
    from diagnostics.dataset import scan_summary

    return scan_summary(scan)


def _now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


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
        read_only: read an existing store without ever writing (a read-only mount): SQLite's
            ``mode=ro`` (``immutable=1`` when no WAL file exists and none can be created); every
            write raises StoreError.

    Raises:
        StoreError: the file is not a SQLite database, is corrupt, locked for longer than the busy
            timeout, from a newer schema, or the folder cannot be created.
    """

    def __init__(
        self,
        home: str | os.PathLike | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        *,
        read_only: bool = False,
    ) -> None:
        self.busy_timeout_ms = busy_timeout_ms
        self.home = diag_home(home).resolve()
        self.path = self.home / "runs.sqlite"
        self.read_only = read_only
        if read_only:
            self._local = threading.local()
            self._open_read_only()
            return
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

    def with_busy_timeout(self, busy_timeout_ms: int) -> Store:
        """This store through connections of its own whose writes wait at most ``busy_timeout_ms``
        for another writer's lock: for a writer that would rather retry later than wait (the
        runner's, while a trial is watched). The file is already open and migrated: no access here.
        """
        other = copy.copy(self)
        other.busy_timeout_ms = busy_timeout_ms
        other._local = threading.local()
        return other

    # -- connections and error mapping ---------------------------------------------------------

    def _open_read_only(self) -> None:
        if not self.path.is_file():
            raise StoreError(f"no store at {self.path}")
        with self._errors():
            found = self._conn().execute("PRAGMA user_version").fetchone()[0]
        if found != SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {found}, this program reads {SCHEMA_VERSION}, "
                "and it is read-only so it cannot be migrated: open it once where it can be written"
            )

    def _read_only_conn(self) -> sqlite3.Connection:
        uri = "file:" + urllib.parse.quote(str(self.path))
        try:
            conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=self.busy_timeout_ms / 1000)
            conn.execute("PRAGMA schema_version").fetchone()  # opens the file (and its WAL)
        except sqlite3.OperationalError:
            # A read-only mount without a -shm file: SQLite cannot set up WAL reading. With no -wal
            # file either, the database file alone holds everything, and immutable reads it.
            if Path(str(self.path) + "-wal").exists():
                raise
            conn = sqlite3.connect(uri + "?immutable=1", uri=True)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None and self.read_only:
            conn = self._local.conn = self._read_only_conn()
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
        if self.read_only:
            raise StoreError(f"store {self.path} is open read-only: nothing can be written")
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
        ``recover.recover_interrupted`` can tell a live queue from one left by a dead process.
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
                r.get("pss_bytes"),
                None if r.get("pss_read") is None else int(bool(r["pss_read"])),
            )
            for r in rows
        ]
        if not values:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO samples (run_id, t, rss_bytes, main_rss_bytes, processes, fds, threads,"
                " cpu_percent, vmhwm_bytes, pss_bytes, pss_read) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        """The run's samples in time order, without the 0-byte samples of an exiting worker.

        Samplers before issue 18 stored a sample read while the kernel freed the exiting worker's
        memory (0 bytes, and 0 for a child exiting with it); a process that has gone is not a
        sample, so those are left out here, as the sampler now leaves them out.
        """
        rows = self._query(
            "SELECT t, rss_bytes, main_rss_bytes, processes, fds, threads, cpu_percent, vmhwm_bytes,"
            " pss_bytes, pss_read FROM samples WHERE run_id = ? AND IFNULL(rss_bytes, -1) != 0"
            " AND IFNULL(main_rss_bytes, -1) != 0 ORDER BY t, rowid",
            (run_id,),
        )
        records = []
        for row in rows:
            record = dict(row)
            procs = _loads(record["processes"]) or {}
            record["processes"] = {int(pid): rss for pid, rss in procs.items() if rss != 0}
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


def _options(config: dict[str, Any]) -> dict[str, Any]:
    out = {name: config.get(name) for name in OPTION_COLUMNS}
    if isinstance(out["image_size"], (list, tuple)):
        out["image_size"] = "x".join(str(v) for v in out["image_size"])
    return out
