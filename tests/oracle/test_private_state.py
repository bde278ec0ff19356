"""The oracle node's state is private: `solsentry oracle run` makes its folders 0700 (umask 077
for everything it creates), and the job store is 0600 whoever opens it."""

from __future__ import annotations

import stat
from pathlib import Path

from oracle.store import JobStore


def _private(path: Path) -> bool:
    return not stat.S_IMODE(path.lstat().st_mode) & 0o077


def test_oracle_run_makes_its_state_private(tmp_path, solsentry):
    tmp_path.chmod(0o755)
    keys, chain = tmp_path / "keys", tmp_path / "chain"
    for folder in (keys, chain):
        folder.mkdir()
        folder.chmod(0o755)
    db = tmp_path / "oracle" / "db" / "jobs.sqlite"
    run = solsentry("oracle", "run", "--deployment", str(tmp_path / "missing.json"), env={
        "SOLSENTRY_DB_PATH": str(db), "SOLSENTRY_KEYSTORE_FILE": str(keys / "keystore.json"),
        "SOLSENTRY_CHAIN_DIR": str(chain)}, timeout=120)
    assert run.returncode != 0 and "deployment" in run.stderr, run.stderr   # it stops after the set-up
    assert all(_private(p) for p in (db.parent, db.parent.parent, keys, chain))
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755       # a folder above the state is left alone


def test_job_store_is_private(tmp_path):
    db = tmp_path / "state" / "jobs.sqlite"
    db.parent.mkdir()
    db.parent.chmod(0o755)
    store = JobStore(db)
    store.counts()
    assert _private(db.parent) and _private(db)
    assert all(_private(p) for p in db.parent.iterdir())        # -wal and -shm too
