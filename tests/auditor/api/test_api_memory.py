"""The service's memory cap is the resident memory of each audit's process tree: with the settings
SolSentry ships, a 0.8 contract (WebAssembly solc-js) and a 0.4 one are audited, with the findings
`solsentry audit` gives; an audit over the cap fails with that reason. A real `solsentry serve`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from testsupport.waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
BANK_04 = (ROOT / "examples" / "EtherBank.sol").read_text()
BANK_08 = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Bank08 {
    mapping(address => uint256) public balances;

    function deposit() external payable { balances[msg.sender] += msg.value; }

    function withdraw() external {
        uint256 amount = balances[msg.sender];
        (bool ok, ) = msg.sender.call{value: amount}("");
        require(ok, "send");
        balances[msg.sender] = 0;
    }
}
"""
OPTIONS = {"tools": ["slither"], "review": "none"}


def _audit(server, key: str, files: dict) -> tuple[dict, dict | None]:
    code, body, _ = server.call("POST", "/v1/audits", json.dumps({"files": files, "options": OPTIONS}).encode(), key)
    assert code == 202, body
    audit_id = json.loads(body)["id"]

    def finished():
        doc = json.loads(server.call("GET", f"/v1/audits/{audit_id}", key=key)[1])
        return doc if doc["status"] in ("done", "failed") else None

    doc = wait_for(finished, 600, f"audit {audit_id}", interval=0.3)
    code, body, _ = server.call("GET", f"/v1/audits/{audit_id}/report", key=key)
    return doc, json.loads(body) if code == 200 else None


def test_default_settings_audit_08_and_04_like_the_cli(make_server, tmp_path, solsentry):
    assert not any(k.startswith("SOLSENTRY_API_AUDIT_MEMORY") for k in os.environ)     # the shipped default
    server = make_server(tmp_path / "api")
    key = server.key()
    server.start()
    for name, source, solc in (("Bank08.sol", BANK_08, "0.8."), ("EtherBank.sol", BANK_04, "0.4.")):
        doc, report = _audit(server, key, {f"contracts/{name}": source})
        assert doc["status"] == "done", doc
        (entry,) = report["files"]
        assert entry["status"] == "compiled" and entry["solc"].startswith(solc), entry
        assert any(f["category"] == "reentrancy" for f in report["findings"]), name
        cli = tmp_path / "cli" / name.removesuffix(".sol")
        (cli / "contracts").mkdir(parents=True)
        (cli / "contracts" / name).write_text(source)
        out = tmp_path / f"{name}.json"
        solsentry("audit", str(cli), "--tools", "slither", "--review", "none", "--fail-on", "none", "--out", str(out),
                  "-q", env={"SOLSENTRY_RESULTS_DIR": str(tmp_path / "cli-results")})
        assert report["findings"] == json.loads(out.read_text())["findings"], name


def test_an_audit_over_the_memory_cap_fails_with_the_reason(make_server, tmp_path):
    # 60 MB: less than the audit process alone (Python with the pipeline loaded) holds
    server = make_server(tmp_path / "api", {"SOLSENTRY_API_AUDIT_MEMORY_MB": "60"})
    key = server.key()
    server.start()
    doc, _ = _audit(server, key, {"contracts/EtherBank.sol": BANK_04})
    assert doc["status"] == "failed", doc
    assert doc["error"] == "the audit failed: the audit went over its memory limit of 60 MB"
