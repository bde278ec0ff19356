"""The `outputs` table: report bytes by their hash (the keccak256 the oracle posts on chain).

Owned here, so that the API serves what the oracle wrote without knowing the oracle's schema:
the oracle's store creates the table (`create`) and writes it (`put`) inside its own
transactions; the API reads it (`read`) from the oracle's database file, read-only. Hashes are
stored as `0x` + 64 lowercase hex digits.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

DDL = "CREATE TABLE IF NOT EXISTS outputs (hash TEXT PRIMARY KEY, bytes BLOB NOT NULL, created_at REAL NOT NULL)"


def create(conn: sqlite3.Connection) -> None:
    """Make the table (a migration step of the database that holds it)."""
    conn.execute(DDL)


def put(conn: sqlite3.Connection, output_hash: str, data: bytes) -> None:
    """Store `data` under `output_hash`, once (a second write of the same hash keeps the first)."""
    conn.execute("INSERT OR IGNORE INTO outputs (hash, bytes, created_at) VALUES (?, ?, ?)",
                 (output_hash, data, time.time()))


def get(conn: sqlite3.Connection, output_hash: str) -> bytes | None:
    row = conn.execute("SELECT bytes FROM outputs WHERE hash = ?", (output_hash,)).fetchone()
    return bytes(row[0]) if row else None


def read(path: Path, output_hash: str) -> bytes | None:
    """The bytes under `output_hash` in the database at `path`, opened read-only; None when the
    file, the table or the hash is not there, or the database cannot be read."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        return get(db, output_hash)
    except sqlite3.Error:
        return None
    finally:
        db.close()
