"""The oracle's job store on a database made before versions were recorded: migrated in place, its
jobs, cursor and outputs kept, the outputs readable through auditor.outputs."""

from __future__ import annotations

import sqlite3

from auditor import outputs
from oracle.store import JobState, JobStore

# The DDL oracle/store.py ran before auditor.db (user_version stayed 0).
OLD_DDL = """
CREATE TABLE IF NOT EXISTS jobs (
    request_id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, requester TEXT NOT NULL,
    input_hash TEXT NOT NULL, input_uri TEXT NOT NULL DEFAULT '', inline_input BLOB, target TEXT,
    deadline INTEGER NOT NULL, block_number INTEGER NOT NULL, tx_hash TEXT NOT NULL, log_index INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, runs_completed INTEGER NOT NULL DEFAULT 0, status_code INTEGER,
    output_hash TEXT, model_hash TEXT, high INTEGER, medium INTEGER, submit_tx TEXT, submit_nonce INTEGER,
    raw_tx BLOB, confirmed_block INTEGER, reason TEXT, received_at REAL NOT NULL, updated_at REAL NOT NULL,
    UNIQUE (tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outputs (hash TEXT PRIMARY KEY, bytes BLOB NOT NULL, created_at REAL NOT NULL);
"""
H = "0x" + "ab" * 32


def test_a_database_from_the_old_ddl_is_migrated_and_keeps_its_state(tmp_path):
    path = tmp_path / "jobs.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_DDL)
        db.execute("INSERT INTO jobs (request_id, kind, state, requester, input_hash, deadline, block_number, "
                   "tx_hash, log_index, output_hash, received_at, updated_at) "
                   "VALUES ('0x01', 'source', 'GENERATED', '0xr', '0xi', 9, 3, '0xt', 0, ?, 1, 1)", (H,))
        db.execute("INSERT INTO cursors VALUES ('requests', 41)")
        db.execute("INSERT INTO outputs VALUES (?, ?, 0)", (H, b'{"old":1}'))
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 0
    store = JobStore(path)
    assert store.version == len(JobStore.MIGRATIONS)
    job = store.get("0x01")
    assert job is not None and job.state is JobState.GENERATED and job.output_hash == H
    assert store.cursor("requests") == 41
    assert store.output(H.upper().replace("0X", "0x")) == b'{"old":1}'
    assert outputs.read(path, H) == b'{"old":1}'
    store.close()
    assert JobStore(path).in_state(JobState.GENERATED)[0].request_id == "0x01"     # reopened: no change


def test_a_generated_output_is_in_auditors_outputs_table(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    store.add_jobs([], "requests", 1)
    store.generated("0xnone", b"bytes", H, "m", 1, 0, 0)       # no such job: the output is still kept
    assert outputs.read(tmp_path / "jobs.sqlite", H) == b"bytes" == store.output(H)
