"""The oracle node's audit processes die with it (issue 12, point 4), against a real Hardhat node:
SIGKILL the daemon mid-audit and none of its processes is left 2 s later; a restarted node kills
what a predecessor recorded and left behind."""

from __future__ import annotations

import importlib.util
import json
import signal
import time
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("daemon_helpers", Path(__file__).with_name("test_daemon.py"))
_h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_h)
_setup, _inline, _request, VULNERABLE = _h._setup, _h._inline, _h._request, _h.VULNERABLE


def _mythril_missing() -> str | None:
    from auditor.tools.mythril import MythrilTool

    return MythrilTool().unavailable()


@pytest.mark.skipif(bool(_mythril_missing()), reason="Mythril's environment is not installed")
def test_sigkill_mid_audit_leaves_no_audit_process(hardhat_node, tmp_path, audit_tree):
    w3, client, (node,), deployment = _setup(hardhat_node, tmp_path)
    # Mythril with a long budget: the audit is still running when the daemon is killed.
    node.extra.update({"SOLSENTRY_AUDIT_TOOLS": json.dumps(["slither", "mythril"]),
                       "SOLSENTRY_AUDIT_MYTHRIL_TIMEOUT_S": "600", "SOLSENTRY_AUDIT_TIMEOUT_S": "1800",
                       "SOLSENTRY_AUDIT_USE_CACHE": "false", "SOLSENTRY_REVIEW": "none"})
    node.start(deployment)
    try:
        _request(client, w3, _inline(VULNERABLE))
        procs = audit_tree.wait_mid_audit(node.proc.pid, log=lambda: node.log.read_text()[-3000:])
        # Every warm audit worker (the busy one too) is recorded, by the node.
        from oracle.config import OracleSettings

        records = [json.loads(p.read_text()) for p in (node.dir / "children").iterdir()]
        assert len(records) == OracleSettings().workers and {r["owner"] for r in records} == {node.proc.pid}
        node.kill(signal.SIGKILL)
        audit_tree.assert_gone(procs, within=2.0)
    finally:
        node.kill(signal.SIGKILL)


def test_start_up_kills_what_a_predecessor_left_behind(hardhat_node, tmp_path, leftover_audit, audit_tree):
    _w3, _client, (node,), deployment = _setup(hardhat_node, tmp_path, auditor="stub")
    procs = leftover_audit(node.dir / "children")
    node.start(deployment)
    try:
        deadline = time.monotonic() + 120              # the node's start-up, on a loaded machine
        while "left behind by a previous instance" not in node.log.read_text():   # logged once they are gone
            assert node.proc.poll() is None, node.log.read_text()[-3000:]
            assert time.monotonic() < deadline, node.log.read_text()[-3000:]
            time.sleep(0.1)
        audit_tree.assert_gone(procs, within=0)
        assert list((node.dir / "children").iterdir()) == []
    finally:
        node.kill(signal.SIGTERM)
