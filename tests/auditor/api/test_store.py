"""The queue on a real SQLite file: claims never overlap, restarts requeue, retention deletes."""

from __future__ import annotations

import sqlite3
import threading

from auditor.api.config import ApiSettings
from auditor.api.runner import Workers, job_dir
from auditor.api.store import AuditStore


def test_claims_never_overlap_and_restart_requeues(tmp_path):
    store = AuditStore(tmp_path / "q.sqlite")
    ids = {store.add("k", f"content-{i}", {"tools": ["slither"]})[0].id for i in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        own = AuditStore(tmp_path / "q.sqlite")          # its own connection, as each server thread has
        while (job := own.claim()) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)                # each job claimed once, none lost
    assert store.recover() == 40 and store.counts()["queued"] == 40
    again, created = store.add("k", "content-0", {"tools": ["slither"]})
    assert not created and again.id in ids               # an identical submission is reused


def test_retention_deletes_old_results_and_their_files(tmp_path):
    settings = ApiSettings(data_dir=tmp_path, retention_s=3600)
    store = AuditStore(settings.db_path)
    old, _ = store.add("k", "a", {})
    new, _ = store.add("k", "b", {})
    for job in (old, new):
        store.claim()
        store.finish(job.id, "{}", {"high": 0}, None)
        (job_dir(settings, job.id) / "src").mkdir(parents=True)
    with sqlite3.connect(settings.db_path) as db:
        db.execute("UPDATE audits SET finished_at = finished_at - 7200 WHERE id = ?", (old.id,))
    assert Workers(store, settings).expire_once() == 1
    assert store.get(old.id) is None and not job_dir(settings, old.id).exists()
    assert store.get(new.id) is not None and job_dir(settings, new.id).exists()


def _finished(store: AuditStore, content: str, *, error: str | None = None, complete: bool = False) -> str:
    job, created = store.add("k", content, {})
    assert created and store.claim().id == job.id
    store.finish(job.id, "{}", {"high": 0}, error, complete)
    return job.id


def test_only_done_and_complete_audits_are_reused(tmp_path):
    store = AuditStore(tmp_path / "q.sqlite")
    complete = _finished(store, "a", complete=True)
    incomplete = _finished(store, "b", complete=False)
    failed = _finished(store, "c", error="nothing could be analyzed: A.sol: ParserError", complete=True)
    assert store.get(failed).status == "failed" and store.get(failed).complete is False
    assert store.add("k", "a", {}) == (store.get(complete), False)
    for content, old in (("b", incomplete), ("c", failed)):
        job, created = store.add("k", content, {})
        assert created and job.id != old and job.status == "queued"


def test_a_database_from_before_complete_is_migrated_and_its_audits_not_reused(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:           # the audits table as the first release made it
        db.execute("CREATE TABLE audits (id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL, "
                   "dedupe_key TEXT NOT NULL, options TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, "
                   "finished_at REAL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT, summary TEXT, report TEXT)")
        db.execute("INSERT INTO audits (id, owner, status, dedupe_key, options, created_at, finished_at, report) "
                   "VALUES ('old', 'k', 'done', 'a', '{}', 1, 2, '{}')")
    store = AuditStore(path)
    assert store.get("old").complete is False   # not known to be complete: done, but never reused
    job, created = store.add("k", "a", {})
    assert created and job.id != "old"
