"""The service's results cache is shared only within one API key (auditor/cache.py `scope`): whether an
exact text was audited before must not tell one client about another's audits. A real `solsentry
serve` with two keys, real Slither runs."""

from __future__ import annotations

import json
from pathlib import Path

from testsupport.waiting import wait_for

from auditor.cache import ResultCache

ROOT = Path(__file__).resolve().parents[3]
SOURCE = (ROOT / "examples" / "EtherBank.sol").read_text() + "\n// cache scope\n"


def _slither_cached(server, key: str, review: str) -> bool:
    body = {"files": {"src/Merger.sol": SOURCE}, "options": {"tools": ["slither"], "review": review}}
    code, answer, _ = server.call("POST", "/v1/audits", json.dumps(body).encode(), key)
    assert code == 202, answer
    audit_id = json.loads(answer)["id"]
    doc = wait_for(lambda: (d := json.loads(server.call("GET", f"/v1/audits/{audit_id}", key=key)[1]))["status"]
                   in ("done", "failed") and d, 300, "the audit to finish", interval=1.0)   # under 60 requests a minute
    assert doc["status"] == "done", doc
    text = server.call("GET", f"/v1/audits/{audit_id}/report", key=key)[1]
    report = json.loads(text)
    # Nor does a report name the host's folders: its target is the submission's root.
    assert report["target"] == "." and str(server.data.resolve()) not in text.decode()
    (run,) = [r for r in report["tool_runs"] if r["tool"] == "slither"]
    return run["cached"]


def test_one_keys_cached_results_are_not_anothers(make_server, tmp_path):
    s = make_server(tmp_path / "api")
    alice, bob = s.key("alice"), s.key("bob")
    s.start()
    assert _slither_cached(s, alice, "none") is False
    assert _slither_cached(s, bob, "none") is False           # the same text, another key: no hit
    assert _slither_cached(s, alice, "embedded") is True      # the same key (another review): its own hit


def test_entries_of_one_scope_are_invisible_to_another(tmp_path):
    ResultCache(tmp_path, scope="owner:a").put("k", {"v": 1})
    assert ResultCache(tmp_path, scope="owner:a").get("k") == {"v": 1}
    assert ResultCache(tmp_path, scope="owner:b").get("k") is None
    assert ResultCache(tmp_path).get("k") is None
