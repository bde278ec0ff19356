"""The one SQLite base of the project's stores (the API's queue, the oracle's jobs).

One connection per thread, WAL, `synchronous=FULL` (a transaction reported done survives power
loss, not only a process crash), write transactions `BEGIN IMMEDIATE` (the write lock is taken
at the start, so two writers never deadlock on an upgrade), and migrations by version: the
store's `MIGRATIONS` take `PRAGMA user_version` from i to i + 1, each in the transaction that
sets the new version. A database made before versions were recorded (user_version 0) runs every
migration, so each must also accept the layout that database already has (CREATE ... IF NOT
EXISTS, a column added only when missing).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from auditor.perms import private_dir, private_sqlite

Migration = Callable[[sqlite3.Connection], None]


def script(sql: str) -> Migration:
    """A migration of plain statements separated by `;` (no `;` inside their text)."""
    def run(conn: sqlite3.Connection) -> None:
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)
    return run


def add_columns(table: str, columns: Sequence[tuple[str, str]]) -> Migration:
    """A migration adding the `(name, declaration)` columns `table` lacks."""
    def run(conn: sqlite3.Connection) -> None:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        for name, decl in columns:
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
    return run


class Database:
    """A store in one SQLite file; subclasses set `MIGRATIONS` and use `_conn()` and `_tx()`."""

    MIGRATIONS: Sequence[Migration] = ()

    def __init__(self, path: Path) -> None:
        path = Path(path)
        private_dir(path.parent)            # stores hold reports, keys' hashes, signed outputs
        self.path = path
        self._local = threading.local()
        self._migrate()
        private_sqlite(path)

    @property
    def version(self) -> int:
        return self._conn().execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        with self._tx() as db:
            start = db.execute("PRAGMA user_version").fetchone()[0]
            for migration in self.MIGRATIONS[start:]:
                migration(db)
            if start < len(self.MIGRATIONS):
                db.execute(f"PRAGMA user_version = {len(self.MIGRATIONS):d}")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (the next use opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
