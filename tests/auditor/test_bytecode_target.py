"""Bytecode is a target: runtime code goes through `audit()` like sources, with the tools whose
SCOPE includes "bytecode" (Mythril, for real here), into a `solsentry.report/1`."""

from __future__ import annotations

import json

import pytest

from auditor.errors import AuditorError, TargetError
from auditor.options import AuditOptions
from auditor.pipeline import audit
from auditor.targets.bytecode import BytecodeTarget

KILLABLE = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Killable {
    function kill() external { selfdestruct(payable(msg.sender)); }
}
"""
ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> bytes:
    from auditor.solc.compiler import compile_files

    d = tmp_path_factory.mktemp("killable")
    (d / "Killable.sol").write_text(KILLABLE)
    out = compile_files([d / "Killable.sol"], d, outputs=("evm.deployedBytecode.object",)).output
    return bytes.fromhex(out["contracts"]["Killable.sol"]["Killable"]["evm"]["deployedBytecode"]["object"])


def test_bytecode_target_checks_its_input():
    with pytest.raises(TargetError):
        BytecodeTarget(b"")
    with pytest.raises(TargetError):
        BytecodeTarget.from_hex("0xzz")
    assert BytecodeTarget.from_hex("0x6000").code == b"\x60\x00"


def test_a_bytecode_audit_needs_a_bytecode_tool(runtime):
    with pytest.raises(AuditorError, match="analyzes bytecode"):
        audit(BytecodeTarget(runtime), AuditOptions(tools=("slither",), review="none"))


@pytest.mark.slow
def test_bytecode_audit_is_a_report(runtime, validate_report):
    from eth_utils import keccak

    target = BytecodeTarget(runtime, ADDRESS, 31337)
    # Slither does not analyze bytecode: only Mythril runs.
    report = audit(target, AuditOptions(tools=("slither", "mythril"), review="none", use_cache=False,
                                        tool_settings={"mythril": {"execution_timeout": 10}}))
    validate_report(json.loads(report.to_json()))
    assert report.target == ADDRESS and report.target_kind == "bytecode" and report.files == []
    assert report.bytecode is not None and report.bytecode.codehash == "0x" + keccak(runtime).hex()
    assert (report.bytecode.code_size, report.bytecode.address, report.bytecode.chain_id) == (len(runtime), ADDRESS,
                                                                                           31337)
    assert [(t.name, t.runs) for t in report.tools] == [("mythril", 1)]
    assert [(r.tool, r.unit, r.state) for r in report.tool_runs] == [("mythril", "runtime", "ok")]
    kill = next(f for f in report.findings if f.swc == "SWC-106")
    assert kill.severity == "high" and kill.primary.file == "runtime" and kill.primary.pc
    assert kill.primary.function == "kill" and report.analyzed()
    assert len({f.id for f in report.findings}) == len(report.findings)
