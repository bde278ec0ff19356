"""`solsentry serve`'s audit processes die with it (issue 12, point 4): SIGKILL the server
mid-audit and none of its processes is left 2 s later; a restarted server kills what a
predecessor recorded and left behind."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BANK = (ROOT / "examples" / "EtherBank.sol").read_text()


def _mythril_missing() -> str | None:
    from auditor.tools.mythril import MythrilTool

    return MythrilTool().unavailable()


@pytest.mark.skipif(bool(_mythril_missing()), reason="Mythril's environment is not installed")
def test_sigkill_mid_audit_leaves_no_audit_process(make_server, tmp_path, audit_tree):
    s = make_server(tmp_path / "api", {"SOLSENTRY_API_AUDIT_TIMEOUT_S": "1800"})
    key = s.key()
    s.start("--workers", "1")
    # Mythril with a long budget: the audit is still running when the server is killed.
    body = {"files": {"Bank.sol": BANK},
            "options": {"tools": ["slither", "mythril"], "review": "none", "mythril_timeout": 600}}
    status, answer, _ = s.call("POST", "/v1/audits", json.dumps(body).encode(), key)
    assert status == 202, answer
    procs = audit_tree.wait_mid_audit(s.proc.pid, log=s.log)
    assert len(list((s.data / "children").iterdir())) == 1          # the running child is recorded
    os.kill(s.proc.pid, signal.SIGKILL)                               # the server alone, not its group
    s.proc.wait(30)
    audit_tree.assert_gone(procs, within=2.0)


def test_start_up_kills_what_a_predecessor_left_behind(make_server, tmp_path, leftover_audit, audit_tree):
    s = make_server(tmp_path / "api")
    procs = leftover_audit(s.data / "children")
    s.start("--insecure-dev")                # returns once /healthz answers: start-up is over
    audit_tree.assert_gone(procs, within=0)
    # What is recorded now is the new server's own warm audit workers, none of the predecessor's.
    records = [json.loads(p.read_text()) for p in (s.data / "children").iterdir()]
    assert all(r["owner"] == s.proc.pid and r["pgid"] not in {p.pid for p in procs} for r in records)
    assert "left behind by a previous instance" in s.log()
