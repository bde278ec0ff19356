"""auditor.db on real SQLite files: pragmas, one connection per thread, immediate transactions,
migrations by version (a database from before versions were recorded runs them all)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from auditor import outputs
from auditor.db import Database, add_columns, script


class Notes(Database):
    MIGRATIONS = (script("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"),
                  add_columns("notes", (("tag", "TEXT"),)))


def test_a_new_database_is_at_the_last_version_in_wal_with_full_sync(tmp_path):
    db = Notes(tmp_path / "n.sqlite")
    assert db.version == 2
    conn = db._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2          # FULL
    assert {r[1] for r in conn.execute("PRAGMA table_info(notes)")} == {"id", "text", "tag"}
    Notes(tmp_path / "n.sqlite")                                           # opening again changes nothing
    assert db.version == 2


def test_an_unversioned_database_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
        conn.execute("INSERT INTO notes (text) VALUES ('kept')")
    db = Notes(path)
    assert db.version == 2
    assert [tuple(r) for r in db._conn().execute("SELECT text, tag FROM notes")] == [("kept", None)]


def test_connections_are_per_thread_and_a_failed_transaction_rolls_back(tmp_path):
    db = Notes(tmp_path / "n.sqlite")
    other: list = []
    t = threading.Thread(target=lambda: other.append(db._conn()))
    t.start()
    t.join()
    assert other[0] is not db._conn() and db._conn() is db._conn()
    with pytest.raises(RuntimeError), db._tx() as conn:
        conn.execute("INSERT INTO notes (text) VALUES ('gone')")
        raise RuntimeError
    assert db._conn().execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 0
    db.close()
    assert db._conn().execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 0      # reopened


def test_outputs_are_written_once_and_read_back_read_only(tmp_path):
    path = tmp_path / "o.sqlite"
    assert outputs.read(path, "0x" + "ab" * 32) is None                     # no file: nothing, no file made
    assert not path.exists()
    with sqlite3.connect(path) as conn:
        outputs.create(conn)
        outputs.put(conn, "0x" + "ab" * 32, b"first")
        outputs.put(conn, "0x" + "ab" * 32, b"second")
    assert outputs.read(path, "0x" + "ab" * 32) == b"first"
    assert outputs.read(path, "0x" + "cd" * 32) is None
