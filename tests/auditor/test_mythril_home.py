"""Mythril writes the function signatures of every source it compiles into signatures.db in its
home (MYTHRIL_DIR). A home shared between audits carried one submitter's private function names
into another's bytecode report (an oracle code request, a CLI `--bytecode` audit): each run now has
a home of its own. Real Mythril runs."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from auditor.options import AuditOptions
from auditor.pipeline import audit
from auditor.targets.bytecode import BytecodeTarget
from auditor.tools.mythril import MythrilTool

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(MythrilTool().unavailable()),
                                                   reason="Mythril's environment is not installed")]
NAME = "drainTreasuryQx7(address)"
PRIVATE = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Vault {
    function drainTreasuryQx7(address to) external { selfdestruct(payable(to)); }
}
"""


def test_a_source_audits_function_names_do_not_reach_a_later_bytecode_audit(tmp_path, monkeypatch):
    from auditor.config import get_settings
    from auditor.solc.compiler import compile_files

    installed = get_settings().solc_dir
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "solc").symlink_to(installed)       # the installed compilers, in a cache of its own
    monkeypatch.setenv("SOLSENTRY_CACHE_DIR", str(tmp_path / "cache"))      # one cache for both audits
    get_settings.cache_clear()
    try:
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "Vault.sol").write_text(PRIVATE)
        options = AuditOptions(tools=("mythril",), review="none", use_cache=False, hosted=True,
                               tool_settings={"mythril": {"execution_timeout": 10}})
        source = audit(tmp_path / "src", options)
        assert any(f.swc == "SWC-106" and f.primary.function == "drainTreasuryQx7" for f in source.findings)
        out = compile_files([tmp_path / "src" / "Vault.sol"], tmp_path / "src",
                            outputs=("evm.deployedBytecode.object",)).output
        runtime = bytes.fromhex(out["contracts"]["Vault.sol"]["Vault"]["evm"]["deployedBytecode"]["object"])
        code = audit(BytecodeTarget(runtime), options)
        (kill,) = [f for f in code.findings if f.swc == "SWC-106"]
        # Unknown to Mythril's bundled database: named by its selector, not by the earlier audit's source.
        assert kill.primary.function == f"_function_0x{keccak(text=NAME)[:4].hex()}"
        assert not list((tmp_path / "cache").rglob("signatures.db"))
    finally:
        get_settings.cache_clear()
