"""Honest states over HTTP (issue 13, point 2), on a real `solsentry serve`: an audit in which nothing
could be analyzed is `failed` with each file's reason, one with gaps is `done` with `complete: false`,
and neither is handed to an identical submission once the cause is gone.

The cause here is real and removable: the server never installs compilers, and its compiler cache
(SOLSENTRY_CACHE_DIR) starts without solc 0.4.25; the test then installs it there (a copy of the one
`make` cached). 0.4.x sources: solc-js 0.4 is asm.js, which the server's default memory cap lets run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from testsupport.waiting import wait_for

from auditor.solc.provider import SolcProvider

OLD = "pragma solidity 0.4.25;\n\ncontract Old {\n    uint256 x;\n\n    function set(uint256 v) public { x = v; }\n}\n"
NEW = "pragma solidity 0.4.26;\n\ncontract New {\n    uint256 y;\n\n    function set(uint256 v) public { y = v; }\n}\n"


def _install(cache: Path, version: str) -> None:
    """Put the user's cached solc-js `version` into the server's own compiler cache."""
    have = {str(b.version): b.path.parent for b in SolcProvider(install=False).installed() if b.kind == "solc-js"}
    if version not in have:
        pytest.skip(f"solc {version} is not in the compiler cache (`make` installs it)")
    shutil.copytree(have[version], cache / "solc" / version)


def _submit(server, key: str, files: dict) -> dict:
    body = json.dumps({"files": files, "options": {"tools": ["slither"], "review": "none"}}).encode()
    status, answer, _ = server.call("POST", "/v1/audits", body, key)
    assert status == 202, answer
    return json.loads(answer)


def _finished(server, key: str, audit_id: str) -> dict:
    def poll() -> dict | None:
        code, body, _ = server.call("GET", f"/v1/audits/{audit_id}", key=key)
        assert code == 200, body
        doc = json.loads(body)
        return doc if doc["status"] in ("done", "failed") else None

    return wait_for(poll, 600, f"audit {audit_id} to finish")


def test_failed_and_incomplete_audits_are_honest_and_never_reused(make_server, tmp_path):
    cache = tmp_path / "cache"
    _install(cache, "0.4.26")
    s = make_server(tmp_path / "api", {"SOLSENTRY_CACHE_DIR": str(cache),
                                       "SOLSENTRY_API_RATE_LIMIT_PER_MINUTE": "100000"})
    key = s.key()
    s.start()

    # Nothing could be analyzed: failed, with the file's reason; the report is kept and says the same.
    first = _submit(s, key, {"contracts/Old.sol": OLD})
    failed = _finished(s, key, first["id"])
    assert failed["status"] == "failed" and failed["complete"] is False, failed
    assert failed["error"].startswith("nothing could be analyzed: contracts/Old.sol: solc 0.4.25 is not installed")
    code, body, _ = s.call("GET", failed["report_url"], key=key)
    report = json.loads(body)
    assert code == 200 and report["complete"] is False
    assert [(f["path"], f["status"]) for f in report["files"]] == [("contracts/Old.sol", "error")]

    # Some of it analyzed: done, but not complete.
    mixed = _submit(s, key, {"contracts/Old.sol": OLD, "contracts/New.sol": NEW})
    partial = _finished(s, key, mixed["id"])
    assert partial["status"] == "done" and partial["complete"] is False, partial

    _install(cache, "0.4.25")                 # the cause is gone
    again = _submit(s, key, {"contracts/Old.sol": OLD})
    assert again["reused"] is False and again["id"] != first["id"]
    fixed = _finished(s, key, again["id"])
    assert fixed["status"] == "done" and fixed["complete"] is True and fixed["error"] is None, fixed
    mixed_again = _submit(s, key, {"contracts/Old.sol": OLD, "contracts/New.sol": NEW})
    assert mixed_again["reused"] is False and mixed_again["id"] != mixed["id"]
    assert _finished(s, key, mixed_again["id"])["complete"] is True

    # A done and complete audit is what an identical submission gets.
    third = _submit(s, key, {"contracts/Old.sol": OLD})
    assert third["reused"] is True and third["id"] == again["id"]
