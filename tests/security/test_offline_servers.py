"""Issue 12, point 3: servers run offline. A real `solsentry serve` and a real oracle node (on a
Hardhat chain) get a contract whose pragma needs a solc that is not cached: the file ends with the
per-file error that names the version and how an operator pre-installs it, and npm is never
started. `SOLSENTRY_NPM` points at a stand-in that records every run in a marker file (and fails),
so a server that tried to install anything would leave the marker behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "solsentry")
# Versions a server might be asked for; the first one not cached is the one the tests use.
CANDIDATES = ("0.6.12", "0.7.6", "0.6.6", "0.5.16", "0.7.0")
CLEAN = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

contract Drain {
    function deposit() external payable {}

    function sweep(address payable to) external {
        (bool ok, ) = to.call{value: address(this).balance}("");
        require(ok, "send");
    }
}
"""


@pytest.fixture(scope="module")
def uncached() -> str:
    from auditor.solc.provider import SolcProvider

    have = {str(b.version) for b in SolcProvider(install=False).installed()}
    missing = [v for v in CANDIDATES if v not in have]
    if not missing:
        pytest.skip(f"every candidate version is installed here ({', '.join(CANDIDATES)})")
    return missing[0]


def _old(version: str) -> str:
    return f"// SPDX-License-Identifier: MIT\npragma solidity {version};\n\ncontract Old {{\n    uint256 x;\n}}\n"


def _message(version: str) -> str:
    return (f"solc {version} is not installed on this server, and a server never installs compilers during an "
            f"audit (the operator pre-installs them: `solsentry solc install {version}`)")


def test_the_npm_trap_catches_an_install(npm_trap, tmp_path, uncached):
    """Control: the stand-in is what SolSentry runs as npm (so its absence of a marker below means something).
    An empty cache of its own keeps the user's compilers out of it."""
    proc = subprocess.run([EXE, "solc", "install", uncached], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL,
                          env={**os.environ, **npm_trap.env, "SOLSENTRY_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode != 0
    assert npm_trap.marker.exists() and "npm " in npm_trap.marker.read_text()


def test_api_never_installs_a_compiler(make_server, npm_trap, tmp_path, uncached):
    server = make_server(tmp_path / "api", npm_trap.env)
    key = server.key()
    server.start()
    options = {"tools": ["slither"], "review": "none"}
    submissions = {"alone": {"contracts/Old.sol": _old(uncached)},
                   "mixed": {"contracts/Old.sol": _old(uncached), "contracts/Drain.sol": CLEAN}}
    ids = {}
    for name, files in submissions.items():
        code, body = server.call("POST", "/v1/audits", json.dumps({"files": files, "options": options}).encode(), key)
        assert code == 202, body
        ids[name] = json.loads(body)["id"]
    for name, audit_id in ids.items():
        done, _ = server.wait_done(key, audit_id)
        # nothing analyzed is a failure (with the reason); a failed audit keeps its report
        assert done["status"] == ("failed" if name == "alone" else "done"), (name, done)
        code, body = server.call("GET", f"/v1/audits/{audit_id}/report?format=json", key=key)
        assert code == 200, body
        files = {f["path"]: f for f in json.loads(body)["files"]}
        assert files["contracts/Old.sol"]["status"] == "error", (name, files)
        assert files["contracts/Old.sol"]["error"] == _message(uncached), (name, files)
        if name == "mixed":
            assert files["contracts/Drain.sol"]["status"] == "compiled", files
    server.stop()
    npm_trap.assert_never_run()


def test_oracle_never_installs_a_compiler(make_oracle_node, npm_trap, uncached):
    from oracle.processor import ERROR_SCHEMA

    node = make_oracle_node(npm_trap.env)
    alone = json.dumps({"files": {"contracts/Old.sol": _old(uncached)}}, sort_keys=True).encode()
    mixed = json.dumps({"files": {"contracts/Old.sol": _old(uncached), "contracts/Drain.sol": CLEAN}},
                       sort_keys=True).encode()
    ids = {"alone": node.request(alone), "mixed": node.request(mixed)}
    node.start()
    try:
        node.wait_final(list(ids.values()))
    finally:
        node.stop()
    # every file failed: COMPILE_ERROR, and the signed error document names the missing version
    view = node.client.get_request(ids["alone"])
    assert view.status == 5, view
    served = node.output(view.output_hash)
    assert node.client.verify(ids["alone"], served)
    doc = json.loads(served)
    assert doc["schema"] == ERROR_SCHEMA and doc["name"] == "COMPILE_ERROR" and doc["status"] == 5
    assert doc["errors"] == [{"file": "contracts/Old.sol", "error": _message(uncached)}], doc
    # one file compiled: audited (OK), the other file carries the same error in the report
    view = node.client.get_request(ids["mixed"])
    assert view.status == 0 and view.high >= 1, view
    files = {f["path"]: f for f in json.loads(node.output(view.output_hash))["files"]}
    assert files["contracts/Old.sol"]["error"] == _message(uncached) and files["contracts/Drain.sol"]["status"] == \
        "compiled", files
    npm_trap.assert_never_run()
