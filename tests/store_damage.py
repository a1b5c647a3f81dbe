"""Damage a store file the way a bad disk or a stray `dd` would, for the store-failure tests."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def corrupt_table_root(path: Path, table: str) -> None:
    """Overwrite the root page of one table's b-tree with random bytes (as `dd ... seek=N` would)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(os.urandom(page_size))
