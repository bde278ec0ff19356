"""The node's job store: one SQLite file in WAL mode, the single source of truth after a crash.

Each request moves RECEIVED -> RUNNING -> GENERATED -> SUBMITTED -> CONFIRMED, or ends FAILED /
EXPIRED with a reason. Every transition is one transaction, and what a step needs to resume is
written before the step's side effect:
- the report bytes and hash are stored with GENERATED, so a finished audit never runs again;
- the signed raw transaction and its nonce are stored with SUBMITTED *before* it is broadcast,
  so after a crash the same bytes (same hash) are re-broadcast, never a second transaction.
Connections, transactions and migrations: `auditor.db`; the report bytes by hash are auditor's
`outputs` table (`auditor.outputs`), kept in this file so that a job and its output commit together.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, fields
from enum import StrEnum

from auditor import outputs
from auditor.db import Database, script

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    request_id     TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,              -- source | code
    state          TEXT NOT NULL,
    requester      TEXT NOT NULL,
    input_hash     TEXT NOT NULL,
    input_uri      TEXT NOT NULL DEFAULT '',
    inline_input   BLOB,
    target         TEXT,
    deadline       INTEGER NOT NULL,
    block_number   INTEGER NOT NULL,
    tx_hash        TEXT NOT NULL,
    log_index      INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    runs_completed INTEGER NOT NULL DEFAULT 0,
    status_code    INTEGER,
    output_hash    TEXT,
    model_hash     TEXT,
    high           INTEGER,
    medium         INTEGER,
    submit_tx      TEXT,
    submit_nonce   INTEGER,
    raw_tx         BLOB,
    confirmed_block INTEGER,
    reason         TEXT,
    received_at    REAL NOT NULL,
    updated_at     REAL NOT NULL,
    UNIQUE (tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, block INTEGER NOT NULL);
"""


class JobState(StrEnum):
    RECEIVED = "RECEIVED"
    RUNNING = "RUNNING"
    GENERATED = "GENERATED"
    SUBMITTED = "SUBMITTED"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


OPEN_STATES = (JobState.RECEIVED, JobState.RUNNING, JobState.GENERATED, JobState.SUBMITTED)


@dataclass
class Job:
    request_id: str
    kind: str
    state: JobState
    requester: str
    input_hash: str
    input_uri: str
    inline_input: bytes | None
    target: str | None
    deadline: int
    block_number: int
    tx_hash: str
    log_index: int
    attempts: int = 0
    runs_completed: int = 0
    status_code: int | None = None
    output_hash: str | None = None
    model_hash: str | None = None
    high: int | None = None
    medium: int | None = None
    submit_tx: str | None = None
    submit_nonce: int | None = None
    raw_tx: bytes | None = None
    confirmed_block: int | None = None
    reason: str | None = None
    received_at: float = 0.0
    updated_at: float = 0.0


_COLUMNS = [f.name for f in fields(Job)]


def _tables(conn: sqlite3.Connection) -> None:
    script(SCHEMA)(conn)
    outputs.create(conn)


class JobStore(Database):
    """Signed outputs, raw transactions: a 0700 folder, 0600 files. Version 1: the tables, as a
    database from before versions were recorded already has them."""

    MIGRATIONS = (_tables,)

    # ---- listener ----------------------------------------------------------------------
    def add_jobs(self, jobs: list[Job], cursor_name: str, cursor_block: int) -> int:
        """Insert new requests (duplicates by id or by (tx hash, log index) are ignored) and move
        the cursor, atomically: a crash cannot lose a request or skip a block range."""
        now = time.time()
        added = 0
        with self._tx() as db:
            for job in jobs:
                job.received_at = job.updated_at = now
                cur = db.execute(
                    f"INSERT OR IGNORE INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                    [getattr(job, c).value if c == "state" else getattr(job, c) for c in _COLUMNS])
                added += cur.rowcount
            db.execute("INSERT INTO cursors (name, block) VALUES (?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET block = excluded.block", (cursor_name, cursor_block))
        return added

    def cursor(self, name: str) -> int | None:
        row = self._conn().execute("SELECT block FROM cursors WHERE name = ?", (name,)).fetchone()
        return row["block"] if row else None

    # ---- transitions -------------------------------------------------------------------
    def claim(self, request_id: str) -> Job | None:
        """RECEIVED -> RUNNING for one worker; None if someone else got it first."""
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET state = ?, attempts = attempts + 1, updated_at = ? "
                             "WHERE request_id = ? AND state = ?",
                             (JobState.RUNNING, time.time(), request_id, JobState.RECEIVED))
            if cur.rowcount != 1:
                return None
        return self.get(request_id)

    def generated(self, request_id: str, output: bytes, output_hash: str, model_hash: str, status_code: int,
                  high: int, medium: int) -> None:
        with self._tx() as db:
            outputs.put(db, output_hash, output)
            db.execute("UPDATE jobs SET state = ?, output_hash = ?, model_hash = ?, status_code = ?, high = ?, "
                       "medium = ?, runs_completed = runs_completed + 1, updated_at = ? "
                       "WHERE request_id = ? AND state = ?",
                       (JobState.GENERATED, output_hash, model_hash, status_code, high, medium, time.time(),
                        request_id, JobState.RUNNING))

    def submitted(self, request_ids: str | list[str], tx_hash: str, nonce: int, raw_tx: bytes) -> None:
        """One transaction may answer several requests (fulfillBatch): all move together."""
        ids = [request_ids] if isinstance(request_ids, str) else request_ids
        with self._tx() as db:
            db.executemany("UPDATE jobs SET state = ?, updated_at = ?, submit_tx = ?, submit_nonce = ?, raw_tx = ? "
                           "WHERE request_id = ?",
                           [(JobState.SUBMITTED, time.time(), tx_hash, nonce, raw_tx, i) for i in ids])

    def confirmed(self, request_id: str, block: int | None, reason: str | None = None) -> None:
        self._set(request_id, JobState.CONFIRMED, confirmed_block=block, reason=reason)

    def failed(self, request_id: str, reason: str) -> None:
        self._set(request_id, JobState.FAILED, reason=reason)

    def expired(self, request_id: str, reason: str) -> None:
        self._set(request_id, JobState.EXPIRED, reason=reason)

    def back_to(self, request_id: str, state: JobState, reason: str | None = None) -> None:
        self._set(request_id, state, reason=reason)

    def _set(self, request_id: str, state: JobState, **values: object) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._tx() as db:
            db.execute(f"UPDATE jobs SET state = ?, updated_at = ?{', ' + cols if cols else ''} WHERE request_id = ?",
                       (state, time.time(), *values.values(), request_id))

    def recover(self) -> int:
        """After a crash: audits that were running did not finish; they go back to RECEIVED."""
        with self._tx() as db:
            return db.execute("UPDATE jobs SET state = ?, updated_at = ? WHERE state = ?",
                              (JobState.RECEIVED, time.time(), JobState.RUNNING)).rowcount

    # ---- queries -----------------------------------------------------------------------
    def get(self, request_id: str) -> Job | None:
        row = self._conn().execute("SELECT * FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
        return _job(row) if row else None

    def in_state(self, *states: JobState, limit: int = 1000) -> list[Job]:
        marks = ", ".join("?" * len(states))
        rows = self._conn().execute(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY block_number, log_index "
                                    "LIMIT ?", (*states, limit)).fetchall()
        return [_job(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetchall()
        return {r["state"]: r["n"] for r in rows}

    def output(self, output_hash: str) -> bytes | None:
        return outputs.get(self._conn(), output_hash.lower())

    def max_nonce(self) -> int | None:
        row = self._conn().execute("SELECT MAX(submit_nonce) AS n FROM jobs").fetchone()
        return row["n"]

    def prune(self, older_than_s: float) -> int:
        """Forget finished jobs (not their outputs: those are what the chain's hashes point at)."""
        cutoff = time.time() - older_than_s
        with self._tx() as db:
            return db.execute("DELETE FROM jobs WHERE state IN (?, ?, ?) AND updated_at < ?",
                              (JobState.CONFIRMED, JobState.FAILED, JobState.EXPIRED, cutoff)).rowcount


def _job(row: sqlite3.Row) -> Job:
    d = dict(row)
    d["state"] = JobState(d["state"])
    for blob in ("inline_input", "raw_tx"):
        if d[blob] is not None:
            d[blob] = bytes(d[blob])
    return Job(**d)
