"""`solsentry serve` with its default settings audits in a pool of warm workers (auditor/runtime/warm.py):
concurrent audits of files with the same name (one reentrant bank, one clean, both `Bank.sol`) each get
the findings of their own file, never of the other's. A real server (`--insecure-dev`), real Slither."""

from __future__ import annotations

import hashlib
import json

from testsupport.waiting import wait_for
from testsupport.warmpool import CLEAN, REENTRANT

OPTIONS = {"tools": ["slither"], "review": "none"}


def _doc(server, audit_id: str) -> dict:
    code, body, _ = server.call("GET", f"/v1/audits/{audit_id}")
    assert code == 200, body
    return json.loads(body)


def test_concurrent_audits_of_same_named_files_get_their_own_findings(make_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(tmp_path / "results"))
    server = make_server(tmp_path / "api").start("--insecure-dev")
    workers = wait_for(lambda: (w := json.loads(server.call("GET", "/healthz")[1])["workers"])["ready"] == w["size"]
                       and w, 300, "the warm workers", fail=server._alive)
    assert workers["isolation"] == "warm" and workers["size"] >= 2, workers
    # Each text distinct (a comment), so that no submission is answered with another's audit.
    texts = [(kind, f"{text}// submission {i}\n") for i, (kind, text) in enumerate(
        [("reentrant", REENTRANT), ("clean", CLEAN)] * 2)]
    ids = []
    for _, text in texts:
        code, body, _ = server.call("POST", "/v1/audits", json.dumps({"files": {"Bank.sol": text},
                                                                      "options": OPTIONS}).encode())
        assert code == 202, body
        ids.append(json.loads(body)["id"])
    docs = [wait_for(lambda i=i: (d := _doc(server, i))["status"] in ("done", "failed") and d, 600, f"audit {i}",
                     interval=0.3, fail=server._alive) for i in ids]
    for (kind, text), doc in zip(texts, docs, strict=True):
        assert doc["status"] == "done", doc
        code, body, _ = server.call("GET", f"/v1/audits/{doc['id']}/report")
        assert code == 200, body
        report = json.loads(body)
        (entry,) = report["files"]
        assert entry["path"] == "Bank.sol" and entry["status"] == "compiled", entry
        assert entry["sha256"] == hashlib.sha256(text.encode()).hexdigest(), kind     # its own file
        assert any(f["category"] == "reentrancy" for f in report["findings"]) == (kind == "reentrant"), kind
    # Some of them ran at the same time (two workers): started before another had finished.
    assert any(a["id"] != b["id"] and a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]
               for a in docs for b in docs), docs
