"""On-disk cache of per-file verification verdicts, so an unchanged folder is never re-read
(used by ``diagnostics.dataset.verification``).

One SQLite file per dataset root under ``$DIAG_HOME/scan_cache/`` (named by a hash of the root),
keyed by relative path and checked against (size, mtime_ns, ctime_ns): a file whose size or mtime
changed is verified again, and so is one whose permissions changed (chmod, chown and ACL edits move
the ctime, nothing else: a file made unreadable after a scan must not pass as readable). The ctime
costs nothing: it comes with the one stat the listing already makes. SQLite in WAL mode with a busy timeout makes two processes scanning the same folder
safe (the last writer of a row wins; both wrote the same verdict). It is only a cache: a file that
cannot be opened, is corrupt or cannot be written is replaced or skipped, never an error.

On top of the rows, a snapshot: every verdict of the last complete verification in listing order,
in one marshal blob keyed by the listing's state (its fingerprint plus the ctimes). An unchanged folder loads that one blob
instead of a row per file (a 100k-file re-scan stays well under a second); any change falls back
to the rows.

A verdict is ``(format, mode, width, height, note)`` for a readable image, or the reason string
for a bad one. Reasons that may change without the file changing (``cannot read: ...``, a
permission) are not cached.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["ScanCache", "cache_path"]

# Version 2 added ctime_ns; a cache of another version is dropped and rebuilt (only a cache).
_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    rel TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    fmt TEXT, mode TEXT, width INTEGER, height INTEGER, note TEXT, reason TEXT
) WITHOUT ROWID
"""
_SNAPSHOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 0), fingerprint TEXT, data BLOB)
"""
Verdict = tuple[str, str, int, int, "str | None"] | str


def cache_path(home: str | os.PathLike | None, root: str) -> Path:
    from diagnostics.home import diag_home

    name = hashlib.sha1(root.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return diag_home(home) / "scan_cache" / f"{name}.sqlite"


def _cacheable(verdict: Verdict) -> bool:
    return not (isinstance(verdict, str) and verdict.startswith("cannot read"))


class ScanCache:
    """Verdicts of one root's files; ``None`` connection = caching off (unwritable home)."""

    def __init__(self, home: str | os.PathLike | None, root: str) -> None:
        self.path = cache_path(home, root)
        self.conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = self._open()
        except (OSError, sqlite3.DatabaseError):
            try:  # a corrupt cache is thrown away and rebuilt
                self.path.unlink(missing_ok=True)
                self.conn = self._open()
            except (OSError, sqlite3.DatabaseError):
                self.conn = None

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if conn.execute("PRAGMA user_version").fetchone()[0] != _VERSION:
            conn.execute("DROP TABLE IF EXISTS files")
            conn.execute("DROP TABLE IF EXISTS snapshot")
            conn.execute(f"PRAGMA user_version = {_VERSION}")
        conn.execute(_SCHEMA)
        conn.execute(_SNAPSHOT_SCHEMA)
        return conn

    def load_snapshot(self, state: str) -> list[Verdict] | None:
        """The verdicts saved for exactly this folder state, in listing order, else None."""
        if self.conn is None:
            return None
        try:
            row = self.conn.execute("SELECT fingerprint, data FROM snapshot WHERE id = 0").fetchone()
            if row is None or row[0] != state:
                return None
            verdicts = marshal.loads(row[1])
            if list in set(map(type, verdicts)):  # marshal keeps tuples; older blobs may differ
                verdicts = [tuple(v) if isinstance(v, list) else v for v in verdicts]
            return verdicts
        except (sqlite3.DatabaseError, ValueError, EOFError, TypeError):
            return None  # another Python's marshal format, or damage: the rows still answer

    def save_snapshot(self, state: str, verdicts: list[Verdict]) -> None:
        if self.conn is None or not all(_cacheable(v) for v in verdicts):
            return
        try:
            self.conn.execute(
                "INSERT OR REPLACE INTO snapshot (id, fingerprint, data) VALUES (0, ?, ?)",
                (state, marshal.dumps(verdicts)),
            )
        except sqlite3.DatabaseError:
            pass

    def load(self) -> dict[str, tuple[int, int, int, Verdict]]:
        """rel -> (size, mtime_ns, ctime_ns, verdict) for every cached file."""
        if self.conn is None:
            return {}
        try:
            rows = self.conn.execute(
                "SELECT rel, size, mtime_ns, ctime_ns, fmt, mode, width, height, note, reason FROM files"
            ).fetchall()
        except sqlite3.DatabaseError:
            return {}
        out: dict[str, tuple[int, int, int, Any]] = {}
        for rel, size, mtime_ns, ctime_ns, fmt, mode, width, height, note, reason in rows:
            verdict = reason if reason is not None else (fmt, mode, width, height, note)
            out[rel] = (size, mtime_ns, ctime_ns, verdict)
        return out

    def store(self, rows: list[tuple[str, int, int, int, Verdict]]) -> None:
        """Save (rel, size, mtime_ns, ctime_ns, verdict) rows; transient verdicts are left out."""
        if self.conn is None or not rows:
            return
        values = []
        for *key, verdict in rows:
            if not _cacheable(verdict):
                continue
            if isinstance(verdict, str):
                values.append((*key, None, None, None, None, None, verdict))
            else:
                values.append((*key, *verdict, None))
        self._write_many("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)

    def forget(self, rels: list[str]) -> None:
        """Drop rows of files that are no longer in the folder."""
        if self.conn is None or not rels:
            return
        self._write_many("DELETE FROM files WHERE rel = ?", [(r,) for r in rels])

    def _write_many(self, sql: str, values: list[tuple]) -> None:
        """One transaction; a failed write is dropped (a cache miss later, never an error)."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(sql, values)
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
