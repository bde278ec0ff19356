"""The service's persistent state in one SQLite file (WAL): audit jobs and API-key hashes.

A job moves queued -> running -> done | failed. Claiming is one UPDATE inside an IMMEDIATE
transaction, so two workers never run the same job; at start-up, jobs left `running` by a killed
server go back to `queued` (their audit never finished, so it runs once, from the start).
Connections, transactions and migrations: `auditor.db`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from dataclasses import dataclass

from auditor.db import Database, add_columns, script

SCHEMA = """
CREATE TABLE IF NOT EXISTS audits (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL, dedupe_key TEXT NOT NULL,
    options TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0, error TEXT, summary TEXT, report TEXT,
    complete INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS audits_status ON audits(status, created_at);
CREATE INDEX IF NOT EXISTS audits_dedupe ON audits(dedupe_key, status);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, created_at REAL NOT NULL,
    revoked_at REAL);
"""
STATUSES = ("queued", "running", "done", "failed")
# Columns added after the first release: (name, declaration) for ALTER TABLE on an older database
# (its done audits read as not complete: not reused).
_ADDED = (("complete", "INTEGER NOT NULL DEFAULT 0"),)


@dataclass
class AuditJob:
    id: str
    owner: str
    status: str
    dedupe_key: str
    options: dict
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    error: str | None
    summary: dict | None
    report: str | None
    complete: bool = False     # done and nothing missing (Report.complete): the only kind reused

    @property
    def has_report(self) -> bool:
        """Done audits, and failed ones that kept their report (it says file by file what failed)."""
        return self.status in ("done", "failed") and bool(self.report)


def _job(row: sqlite3.Row) -> AuditJob:
    d = dict(row)
    d["options"] = json.loads(d["options"])
    d["summary"] = json.loads(d["summary"]) if d["summary"] else None
    d["complete"] = bool(d["complete"])
    return AuditJob(**d)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class AuditStore(Database):
    """Keys' hashes, reports: a 0700 folder, 0600 files. Version 1: the tables (a database from
    before versions were recorded has them, maybe without `complete`); 2: `complete` where missing."""

    MIGRATIONS = (script(SCHEMA), add_columns("audits", _ADDED))

    # ---- audits -------------------------------------------------------------------------
    def add(self, owner: str, dedupe_key: str, options: dict) -> tuple[AuditJob, bool]:
        """(job, created). An identical submission (same content and options) that is queued,
        running, or done and complete is returned instead of a new job. A failed or incomplete
        audit never is: what made it so (a compiler not installed, a tool that crashed or timed
        out, a memory limit) may be gone, and the new submission must not be handed the old gap."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM audits WHERE dedupe_key = ? AND (status IN ('queued', 'running') "
                             "OR (status = 'done' AND complete = 1)) ORDER BY created_at LIMIT 1",
                             (dedupe_key,)).fetchone()
            if row is not None:
                return _job(row), False
            job_id = uuid.uuid4().hex
            db.execute("INSERT INTO audits (id, owner, status, dedupe_key, options, created_at) "
                       "VALUES (?, ?, 'queued', ?, ?, ?)",
                       (job_id, owner, dedupe_key, json.dumps(options), time.time()))
            return _job(db.execute("SELECT * FROM audits WHERE id = ?", (job_id,)).fetchone()), True

    def get(self, job_id: str) -> AuditJob | None:
        row = self._conn().execute("SELECT * FROM audits WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def list(self, status: str | None, limit: int, offset: int, owner: str | None = None) -> tuple[list[AuditJob], int]:
        clauses = [(c, v) for c, v in (("status = ?", status), ("owner = ?", owner)) if v is not None]
        where = ("WHERE " + " AND ".join(c for c, _ in clauses)) if clauses else ""
        args = [v for _, v in clauses]
        total = self._conn().execute(f"SELECT COUNT(*) FROM audits {where}", args).fetchone()[0]
        rows = self._conn().execute(f"SELECT * FROM audits {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                                    [*args, limit, offset]).fetchall()
        return [_job(r) for r in rows], total

    def claim(self) -> AuditJob | None:
        with self._tx() as db:
            row = db.execute("SELECT * FROM audits WHERE status = 'queued' ORDER BY created_at, id LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE audits SET status = 'running', started_at = ?, attempts = attempts + 1 WHERE id = ?",
                       (time.time(), row["id"]))
            return _job(db.execute("SELECT * FROM audits WHERE id = ?", (row["id"],)).fetchone())

    def finish(self, job_id: str, report_json: str | None, summary: dict | None, error: str | None,
               complete: bool = False) -> None:
        """`error`: the audit failed (a failed audit may still keep its report, e.g. of the files
        that could not be compiled); `complete`: done with nothing missing (`Report.complete`)."""
        with self._tx() as db:
            db.execute("UPDATE audits SET status = ?, finished_at = ?, report = ?, summary = ?, error = ?, "
                       "complete = ? WHERE id = ? AND status = 'running'",
                       ("failed" if error else "done", time.time(), report_json,
                        json.dumps(summary) if summary else None, error, int(bool(complete and not error)),
                        job_id))

    def delete(self, job_id: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM audits WHERE id = ?", (job_id,)).rowcount > 0

    def recover(self) -> int:
        """Jobs a killed server left running go back to the queue."""
        with self._tx() as db:
            return db.execute("UPDATE audits SET status = 'queued', started_at = NULL "
                              "WHERE status = 'running'").rowcount

    def expired(self, older_than_s: float) -> list[str]:
        cutoff = time.time() - older_than_s
        rows = self._conn().execute("SELECT id FROM audits WHERE status IN ('done', 'failed') AND finished_at < ?",
                                    (cutoff,)).fetchall()
        return [r["id"] for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT status, COUNT(*) AS n FROM audits GROUP BY status").fetchall()
        return {s: 0 for s in STATUSES} | {r["status"]: r["n"] for r in rows}

    # ---- API keys -------------------------------------------------------------------------
    def add_key(self, name: str, key: str) -> str:
        key_id = uuid.uuid4().hex[:12]
        with self._tx() as db:
            db.execute("INSERT INTO api_keys (id, name, key_hash, created_at) VALUES (?, ?, ?, ?)",
                       (key_id, name, hash_key(key), time.time()))
        return key_id

    def key_owner(self, key: str) -> str | None:
        row = self._conn().execute("SELECT id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
                                   (hash_key(key),)).fetchone()
        return row["id"] if row else None

    def api_keys(self) -> list[dict]:
        return [dict(r) for r in self._conn().execute(
            "SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at").fetchall()]

    def revoke(self, key_id: str) -> bool:
        with self._tx() as db:
            return db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                              (time.time(), key_id)).rowcount > 0

    def active_keys(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[0]
