"""The routes take their parts (store, settings, limiters, caller) only from auditor/api/deps.py: a test
replaces them with `app.dependency_overrides`, in process."""

from __future__ import annotations

import json

from auditor.api.deps import caller, get_insecure_dev, get_store
from auditor.api.store import AuditStore


def test_routes_use_the_overridden_store_and_caller(make_app, tmp_path):
    s = make_app(tmp_path / "api")
    other = AuditStore(tmp_path / "other" / "api.sqlite")
    job, _ = other.add("alice", "content", {"tools": ["slither"]})
    s.app.dependency_overrides[get_store] = lambda: other
    s.app.dependency_overrides[caller] = lambda: "alice"
    status, body, _ = s.call("GET", f"/v1/audits/{job.id}")
    assert status == 200 and json.loads(body)["status"] == "queued"
    assert json.loads(s.call("GET", "/v1/audits")[1])["total"] == 1
    assert json.loads(s.call("GET", "/healthz")[1])["audits"]["queued"] == 1
    s.app.dependency_overrides[caller] = lambda: "bob"
    assert s.call("GET", f"/v1/audits/{job.id}")[0] == 404            # not bob's
    s.app.dependency_overrides[get_insecure_dev] = lambda: True
    assert s.call("GET", f"/v1/audits/{job.id}")[0] == 200            # --insecure-dev sees every audit


def test_without_overrides_a_key_is_required(make_app, tmp_path):
    s = make_app(tmp_path / "api")
    assert s.call("GET", "/v1/audits")[0] == 401
    assert s.call("GET", "/v1/audits", key=s.key())[0] == 200
