"""The one memory and time policy (auditor/runtime/limits.py) on real process trees, and audit_isolated under
it: the default cap lets the WebAssembly compilers (solc-js 0.8) run, a tree over the cap is killed
whole and the audit fails with a typed error."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from testsupport.waiting import wait_for

from auditor.runtime import limits

ROOT = Path(__file__).resolve().parents[2]
# A parent that starts a child holding ~300 MB resident, then both wait: the memory is below the top.
HOG = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
       "'b = bytearray(300 * 1024 * 1024); import time; time.sleep(600)']); time.sleep(600)")
REENTRANT_08 = """// SPDX-License-Identifier: MIT
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


def _tree(pid: int) -> list[psutil.Process]:
    top = psutil.Process(pid)
    return [top, *top.children(recursive=True)]


def test_the_memory_of_descendants_counts_and_the_whole_tree_is_killed(audit_tree):
    proc = subprocess.Popen([sys.executable, "-c", HOG])
    try:
        wait_for(lambda: limits.tree_rss_mb(proc.pid) > 300, 120, "the child allocating 300 MB")
        procs = _tree(proc.pid)
        assert len(procs) == 2 and psutil.Process(proc.pid).memory_info().rss / 1e6 < 100   # the top is small
        verdict = limits.watch(proc.pid, lambda wait_s: proc.poll() is not None or time.sleep(wait_s) or False,
                               None, memory_mb=200)
        assert verdict == "memory"
        audit_tree.assert_gone(procs)
    finally:
        proc.kill()
        proc.wait()


def test_past_the_time_limit_the_tree_is_killed(audit_tree):
    proc = subprocess.Popen([sys.executable, "-c", HOG.replace("300 *", "1 *")])
    try:
        procs = wait_for(lambda: len(_tree(proc.pid)) == 2 and _tree(proc.pid), 120, "the child starting")
        started = time.monotonic()
        verdict = limits.watch(proc.pid, lambda wait_s: proc.poll() is not None or time.sleep(wait_s) or False,
                               1.0, memory_mb=0)
        assert verdict == "timeout" and time.monotonic() - started >= 1.0
        audit_tree.assert_gone(procs)
    finally:
        proc.kill()
        proc.wait()


def test_a_finished_process_is_done_and_left_alone():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    assert limits.watch(proc.pid, lambda wait_s: proc.poll() is not None or time.sleep(wait_s) or False,
                        600, memory_mb=4096) == "done"
    assert proc.returncode == 0


def test_defaults_are_one_policy():
    from auditor.api.config import ApiSettings
    from auditor.config import Settings
    from oracle.config import OracleSettings

    fields = OracleSettings.model_fields
    assert ApiSettings().audit_memory_mb == fields["audit_memory_mb"].default == Settings().mythril_memory_mb == 4096


def test_a_08_contract_audits_in_a_child_under_the_default_cap(tmp_path, monkeypatch):
    """solc-js 0.8 is WebAssembly: an address-space cap of this size made it fail to start at all."""
    from auditor.api.config import ApiSettings
    from auditor.pipeline import AuditOptions
    from auditor.runtime.isolated import audit_isolated

    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(tmp_path / "results"))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "Bank08.sol").write_text(REENTRANT_08)
    report = audit_isolated(tmp_path / "src", AuditOptions(tools=("slither",), review="none", hosted=True), 600,
                            ApiSettings().audit_memory_mb)
    (entry,) = report.files
    assert entry.status == "compiled" and entry.solc.startswith("0.8."), entry.error
    assert any(f.category == "reentrancy" for f in report.findings)


def test_an_audit_over_its_memory_cap_fails_with_a_typed_error(tmp_path, audit_tree):
    from auditor.pipeline import AuditOptions
    from auditor.runtime.isolated import AuditCrashed, AuditMemoryExceeded, audit_isolated

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    # The audit child alone (Python with the pipeline imported) is well over 60 MB.
    with pytest.raises(AuditMemoryExceeded, match=r"^the audit went over its memory limit of 60 MB$") as caught:
        audit_isolated(ROOT / "examples" / "EtherBank.sol", AuditOptions(tools=("slither",), review="none",
                                                                        use_cache=False), 600, 60)
    assert isinstance(caught.value, AuditCrashed)          # the oracle maps crashes (INTERNAL_ERROR)
    assert time.monotonic() - started < 300
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before
            and "resource_tracker" not in " ".join(p.cmdline())]
    audit_tree.assert_gone(left, within=10)


def test_the_oracle_answers_a_memory_kill_as_an_internal_error(tmp_path):
    from auditor.pipeline import AuditOptions
    from oracle.inputs import ResultStatus
    from oracle.processor import _audit_in_child, _Failure

    with pytest.raises(_Failure) as caught:
        _audit_in_child(ROOT / "examples" / "EtherBank.sol", AuditOptions(tools=("slither",), review="none",
                                                                         use_cache=False), 600, None, 60)
    assert caught.value.status == ResultStatus.INTERNAL_ERROR
    assert "the audit went over its memory limit of 60 MB" in str(caught.value)
