from __future__ import annotations

import re

from auditor.report.markdown import cell, code_block, code_span, escape
from auditor.report.registry import get_format


def test_escape_helpers():
    assert cell("a | b") == r"a \| b"
    assert escape("<script>") == r"\<script\>"
    assert escape("two\nlines") == "two lines"
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("") == ""
    assert code_span("x|y", table=True) == r"`x\|y`"
    assert code_block("```\nx\n```").startswith("````text\n")


def _tables(md: str) -> list[list[str]]:
    """Rows of every GFM table, each row a line."""
    return [[line for line in block.splitlines() if line.startswith("|")]
            for block in md.split("\n\n") if block.startswith("|")]


def test_structure(report):
    md = get_format("md").render(report)
    assert md.startswith("# SolSentry audit report\n")
    assert "`examples/vault` (hardhat)" in md
    # Counted apart from what --fail-on does not count (suppressed, model-only), and a line that says so.
    assert "| High | Medium | Low | Informational | Counted | Suppressed | Review model (advisory) |" in md
    assert "| 1 | 1 | 1 | 1 | **4** | 1 | 0 |" in md
    assert "5 tool findings (4 counted, 1 suppressed). `--fail-on` counts only the counted findings." in md
    # two Mythril runs did not finish: the report says it is incomplete
    assert "> **Warning:** incomplete: 2 tool runs did not finish; findings may be missing." in md
    for heading in ("## Summary", "## Tools", "## Findings", "### High (1)", "### Medium (1)", "### Low (1)",
                    "### Informational (1)", "## Suppressed findings (1)"):
        assert heading in md
    assert "`contracts/Vault.sol:20-31` in `Vault.withdraw`" in md
    assert "`contracts/Vault.sol:40` in `Vault`" in md
    assert "[SWC-107](https://swcregistry.io/docs/SWC-107)" in md
    assert "- **Category:** `reentrancy`" in md
    assert "- **Detectors:** slither `reentrancy-eth`, mythril `SWC-107`" in md
    assert "- **Tools:** mythril, slither" in md


def test_tool_failures_are_visible(report):
    md = get_format("md").render(report)
    assert "2 tool run(s) failed or timed out" in md
    assert "| mythril | `contracts/Token Sale.sol:Sale` | **FAILED** |" in md
    assert "**TIMEOUT**" in md


def test_suppressed_findings_are_listed_separately(report):
    md = get_format("md").render(report)
    findings_part, suppressed_part = md.split("## Suppressed findings")
    assert "tx.origin used for authorization" not in findings_part
    assert "tx.origin used for authorization" in suppressed_part
    assert "| inline |" in suppressed_part


def test_pipes_and_html_are_escaped(report):
    md = get_format("md").render(report)
    assert r"Reentrancy in Vault.withdraw \| drains ether" in md
    assert r"solc \<0.4.24\> \| exited with code 1" in md
    # Every table keeps its column count: no cell text adds a column.
    for table in _tables(md):
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table
    # The description is kept verbatim, but only inside a code fence that its own ``` cannot close.
    assert "<script>" not in md.replace(
        "````text\nReentrancy in Vault.withdraw(uint256) <script>alert('x')</script>:", "")
    assert "````text\n" in md
    assert "```\nnot a fence end\n```\n````" in md
    assert r"\[bold\]unchecked\[/bold\]" in md
