"""The Ray executor against a real local Ray instance (started by the commands themselves)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def test_audit_fans_out_on_ray_with_the_same_result(tmp_path, solsentry):
    outs = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.json"
        proc = solsentry("audit", str(ROOT / "examples"), "--tools", "slither", "--review", "none", "--no-cache",
                         "--executor", executor, "--out", str(out), "-q", "--fail-on", "none")
        assert proc.returncode == 0, proc.stderr
        outs[executor] = json.loads(out.read_text())
    assert outs["ray"]["findings"] == outs["local"]["findings"] and outs["ray"]["findings"]
    assert outs["ray"]["tool_runs"] and all(r["state"] == "ok" for r in outs["ray"]["tool_runs"])


@pytest.mark.parametrize("isolation", ["warm", "fresh"])     # long-lived actors; one Ray task per audit
def test_serve_runs_audits_on_ray(make_server, tmp_path, isolation):
    # Ray starts with the server: more time to answer /healthz
    s = make_server(tmp_path / "api").start("--insecure-dev", "--executor", "ray", "--isolation", isolation,
                                            timeout=120)
    body = json.dumps({"files": {"Bank.sol": (ROOT / "examples" / "EtherBank.sol").read_text()},
                       "options": {"tools": ["slither"], "review": "none"}}).encode()
    code, answer, _ = s.call("POST", "/v1/audits", body)
    assert code == 202, answer
    audit_id = json.loads(answer)["id"]
    deadline = time.monotonic() + 300
    while True:
        code, answer, _ = s.call("GET", f"/v1/audits/{audit_id}")
        assert code == 200, answer
        doc = json.loads(answer)
        if doc["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert doc["status"] == "done", doc
    code, answer, _ = s.call("GET", f"/v1/audits/{audit_id}/report")
    assert code == 200, answer
    assert any(f["category"] == "reentrancy" for f in json.loads(answer)["findings"])
