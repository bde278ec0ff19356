"""The review's verdicts on the terminal and in the shared text helpers: labels (unsure included),
scores, reasons, evidence (protections marked), knowledge entries and the unsure counts."""

from __future__ import annotations

import pytest
from rich.console import Console

from auditor.findings import Evidence, Verdict
from auditor.report.knowledge import knowledge_title, titles
from auditor.report.terminal import EVIDENCE_SHOWN, render_summary, review_details, summary_line
from auditor.report.text import (
    evidence_text,
    knowledge_text,
    label_text,
    review_text,
    unsure_counted,
    verdict_lines,
    verdict_text,
)

LIKELY_FALSE, UNSURE, LIKELY_TRUE, MODEL = range(4)     # the order of the `reviewed_findings` fixture


def _render(report, width: int = 200) -> str:
    console = Console(record=True, width=width, color_system=None, force_terminal=False)
    render_summary(report, console)
    return console.export_text()


# Terminal


def test_terminal_shows_each_verdict_with_its_evidence(reviewed_report):
    out = _render(reviewed_report)
    lines = out.splitlines()
    verdict = next(line for line in lines if line.startswith("likely false 0.12  Reentrancy in Vault.withdraw"))
    assert verdict == ("likely false 0.12  Reentrancy in Vault.withdraw (contracts/Vault.sol:20-31) "
                       "[SWC-107: Reentrancy]: withdraw is guarded by nonReentrant, so the external call cannot "
                       "re-enter")
    assert lines[lines.index(verdict) + 1] == "  + modifier nonReentrant on withdraw (line 12, protection)"
    assert any(line.startswith("unsure 0.48  Weak randomness") and "[SWC-120: " in line for line in lines)
    assert "  - return value of <script>alert(1)</script> call ignored (line 40)" in lines
    assert any(line.startswith("model only 0.83  Price read from a manipulable pool") for line in lines)
    assert "  - price from getReserves() used without a TWAP (line 55)" in lines
    # The table's Review column: label and score only.
    assert "│ unsure 0.48 " in out and "│ likely false 0.12 " in out and "│ likely true 0.91 " in out


def test_terminal_summary_counts_unsure(reviewed_report, report):
    assert summary_line(reviewed_report).plain == (
        "3 counted findings: 1 high, 1 medium, 1 low, 0 informational; review: 1 likely false (still counted), "
        "1 unsure (left as reported), 1 model-only (advisory, not counted)")
    # A reviewer that never abstains reads as before; an unreviewed report says nothing of the review.
    decided = reviewed_report.model_copy(update={"findings": reviewed_report.findings[:1]})
    assert "unsure" not in summary_line(decided).plain
    assert "review" not in summary_line(report).plain


def test_terminal_shows_at_most_three_evidence_items(reviewed_report):
    many = [Evidence(fact="f", detail=f"fact number {i}", line=i) for i in range(1, 6)]
    finding = reviewed_report.findings[LIKELY_TRUE]
    assert finding.review is not None
    finding = finding.model_copy(update={"review": finding.review.model_copy(update={"evidence": many})})
    lines = review_details([finding]).plain.splitlines()
    assert lines[1:] == [f"  - fact number {i} (line {i})" for i in range(1, EVIDENCE_SHOWN + 1)] + [
        "  (2 more in the JSON, SARIF, Markdown and HTML reports)"]
    assert review_details([f.model_copy(update={"review": None}) for f in reviewed_report.findings]) is None


def test_terminal_is_compact_on_a_narrow_console(reviewed_report):
    # 80 columns: the table keeps its verdict cells on one line; the reasons wrap below it, not in it.
    out = _render(reviewed_report, width=80)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "│ likely false 0.12 │" in out


# Text helpers


def test_labels_read_as_words():
    assert [label_text(x) for x in ("likely_true", "likely_false", "unsure")] == ["likely true", "likely false",
                                                                                  "unsure"]
    assert label_text("some_new_label") == "some new label"


@pytest.mark.parametrize(("ev", "text"), [
    (Evidence(fact="reentrancy-guard", detail="modifier nonReentrant on withdraw", line=12, guard=True),
     "modifier nonReentrant on withdraw (line 12, protection)"),
    (Evidence(fact="x", detail="state written after the call", line=30), "state written after the call (line 30)"),
    (Evidence(fact="x", detail="onlyOwner on the contract", guard=True), "onlyOwner on the contract (protection)"),
    (Evidence(fact="x", detail="no line"), "no line"),
])
def test_evidence_text(ev, text):
    assert evidence_text(ev) == text


def test_evidence_text_leaves_the_guard_to_a_caller_that_says_so():
    guard = Evidence(fact="g", detail="modifier nonReentrant on withdraw", line=12, guard=True)
    assert evidence_text(guard, mark_guard=False) == "modifier nonReentrant on withdraw (line 12)"


def test_knowledge_entries_are_named_by_id_and_title(tmp_path):
    assert knowledge_title("SWC-107") == "Reentrancy"
    assert knowledge_text("SWC-107") == "SWC-107: Reentrancy"
    assert knowledge_text("SWC-104") == "SWC-104: Unchecked Call Return Value"
    assert knowledge_text("NO-SUCH-ENTRY") == "NO-SUCH-ENTRY"       # the id, when the base lacks the entry
    assert knowledge_text(None) is None and knowledge_title(None) is None
    # A missing or damaged knowledge base costs the titles, never the report.
    (tmp_path / "bad.yaml").write_text("- id: [unclosed\n", encoding="utf-8")
    (tmp_path / "odd.yaml").write_text("just: a mapping\n", encoding="utf-8")
    assert titles(tmp_path / "missing.yaml") == {} == titles(tmp_path / "bad.yaml") == titles(tmp_path / "odd.yaml")


def test_verdict_lines_and_text(reviewed_findings):
    v = reviewed_findings[LIKELY_FALSE].review
    assert verdict_lines(v) == [
        "Review: likely false (score 0.120, solsentry-review-minilm@0123abcd)",
        "Reason: withdraw is guarded by nonReentrant, so the external call cannot re-enter",
        "Protection: modifier nonReentrant on withdraw (line 12)",
        "Knowledge: SWC-107: Reentrancy",
    ]
    assert verdict_text(reviewed_findings[UNSURE]) == "unsure (score 0.480, solsentry-review-minilm@0123abcd)"
    bare = Verdict(label="unsure", score=0.5, model="m")
    assert verdict_lines(bare) == ["Review: unsure (score 0.500, m)"]


def test_review_text_and_counts(reviewed_report):
    assert review_text(reviewed_report) == (
        "reviewed by solsentry-review-minilm@0123abcd: 3 finding(s) judged, 1 likely false, 1 unsure (left as "
        "reported); 1 finding(s) of the model alone (advisory, not counted by --fail-on)")
    assert unsure_counted(reviewed_report) == 1
    # Counted findings only: a suppressed unsure one is in review.unsure, not in what the summary counts.
    findings = list(reviewed_report.findings)
    findings[UNSURE] = findings[UNSURE].model_copy(update={"suppressed": "baseline"})
    assert unsure_counted(reviewed_report.model_copy(update={"findings": findings})) == 0
    decided = reviewed_report.model_copy(update={"review": reviewed_report.review.model_copy(update={"unsure": 0})})
    assert "unsure" not in (review_text(decided) or "")
