"""Mythril through the pipeline: real runs in its own environment (slow)."""

import contextlib
import time
from pathlib import Path

import psutil
import pytest
from testsupport.waiting import wait_for

from auditor.pipeline import AuditOptions, audit
from auditor.tools.base import Work
from auditor.tools.mythril import MythrilTool

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mythril_and_slither_merge_on_examples(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(tmp_path / "results"))
    from auditor.config import get_settings

    get_settings.cache_clear()
    try:
        # A budget far above what the contract needs: Mythril explores it all however loaded the
        # machine is (a run cut short by its budget would be "timeout", and miss findings).
        report = audit(ROOT / "examples" / "TimeLockedWallet.sol",
                       AuditOptions(tools=("slither", "mythril"), mythril_timeout=600))
    finally:
        get_settings.cache_clear()
    runs = {(r.tool, r.unit): r.state for r in report.tool_runs}
    assert runs[("mythril", "TimeLockedWallet.sol:TimeLockedWallet")] == "ok"
    # SWC-101 needs the compiler version Mythril cannot find offline (see mythril_launcher.py).
    overflow = [f for f in report.findings if f.swc == "SWC-101"]
    assert overflow and overflow[0].primary.start_line == 12
    # Both tools flag the timestamp comparison in release(): one finding, two reporters.
    stamp = [f for f in report.findings if f.category == "time_manipulation"]
    assert any(set(f.tools) == {"mythril", "slither"} for f in stamp)


@pytest.mark.slow
def test_mythril_timeout_kills_the_process_group(provider):
    binary = provider.for_pragma("^0.4.24")
    work = Work(root=str(ROOT / "examples"), file="EtherBank.sol", unit=("EtherBank.sol",),
                solc_path=str(binary.path), solc_version=str(binary.version), solc_kind=binary.kind,
                contract="EtherBank", timeout_s=3)
    before = {p.pid for p in psutil.process_iter()}
    started = time.monotonic()
    outcome = MythrilTool(execution_timeout=60).run(work)
    # killed by the caller's limit (3 s), not its budget's: about this run, not the code (not cached)
    assert outcome.state == "timeout" and outcome.infrastructure
    assert time.monotonic() - started < 60

    def leftovers() -> list:
        return [p for p in psutil.process_iter(["pid", "cmdline"])
                if p.pid not in before and "EtherBank.sol:EtherBank" in " ".join(p.info["cmdline"] or [])]

    # A killed process may take a moment to be reaped: wait for that, not for a fixed time.
    with contextlib.suppress(AssertionError):
        wait_for(lambda: not leftovers(), 30, "the killed Mythril processes to be gone", interval=0.1)
    assert leftovers() == []


@pytest.mark.slow
def test_mythril_memory_cap_is_enforced(provider):
    binary = provider.for_pragma("^0.4.24")
    work = Work(root=str(ROOT / "examples"), file="EtherBank.sol", unit=("EtherBank.sol",),
                solc_path=str(binary.path), solc_version=str(binary.version), solc_kind=binary.kind,
                contract="EtherBank", timeout_s=120)
    outcome = MythrilTool(execution_timeout=60, memory_mb=60).run(work)
    assert outcome.state == "failed" and "memory" in outcome.message and outcome.infrastructure


def test_missing_mythril_environment_is_reported_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLSENTRY_MYTHRIL_ENV", str(tmp_path / "nowhere"))
    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(tmp_path / "results"))
    from auditor.config import get_settings

    get_settings.cache_clear()
    try:
        report = audit(ROOT / "examples" / "EtherBank.sol", AuditOptions(tools=("slither", "mythril")))
    finally:
        get_settings.cache_clear()
    myth = [r for r in report.tool_runs if r.tool == "mythril"]
    assert myth and all(r.state == "skipped" and "environment is missing" in r.message for r in myth)
    assert any(r.tool == "slither" and r.state == "ok" for r in report.tool_runs)
