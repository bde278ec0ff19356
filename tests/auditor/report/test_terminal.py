from __future__ import annotations

from rich.console import Console

from auditor.report.terminal import render_summary, summary_line


def _render(report, **kwargs) -> str:
    console = Console(record=True, width=200, color_system=None, force_terminal=False)
    render_summary(report, console, **kwargs)
    return console.export_text()


def test_findings_table_failures_and_summary(report):
    out = _render(report)
    assert "Reentrancy in Vault.withdraw | drains ether (SWC-107)" in out
    assert "contracts/Vault.sol:20-31" in out
    assert "mythril, slither" in out
    # rich markup in a title prints as written
    assert "Low-level call [bold]unchecked[/bold]" in out
    assert "tx.origin used for authorization" not in out
    assert "Tool failures" in out
    assert "solc <0.4.24> | exited with code 1" in out
    assert out.rstrip().splitlines()[-1] == (
        "4 counted findings: 1 high, 1 medium, 1 low, 1 informational; 1 suppressed (not counted); "
        "2 tool runs failed or timed out")


def test_suppressed_on_request(report):
    assert "tx.origin used for authorization" in _render(report, show_suppressed=True)


def test_empty_report(empty_report):
    out = _render(empty_report)
    assert "Findings" not in out
    assert summary_line(empty_report).plain == "0 counted findings: 0 high, 0 medium, 0 low, 0 informational"
