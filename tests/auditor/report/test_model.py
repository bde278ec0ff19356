"""`Report.complete` and the report's own bookkeeping (real models, hand-made reports)."""

from __future__ import annotations

from auditor.report.model import Report, SourceFile, ToolRun, ToolState
from auditor.report.registry import get_format


def test_complete_is_derived_from_files_and_runs(report, empty_report):
    # The fixture has a failed and a timed-out Mythril run: findings may be missing.
    assert report.complete is False and report.analyzed()
    assert [r.state for r in report.unfinished_runs()] == [ToolState.FAILED, ToolState.TIMEOUT]
    assert report.unanalyzed_files() == []
    # Nothing to analyze, nothing missing; but nothing analyzed either (the API's `failed`).
    assert empty_report.complete is True and not empty_report.analyzed()


def test_nothing_compiled_is_not_analyzed_and_not_complete(empty_report):
    broken = empty_report.model_copy(update={
        "files": [SourceFile(path="A.sol", sha256="a" * 64, status="error", error="ParserError: x")],
        "tool_runs": [ToolRun(tool="slither", unit="A.sol", state=ToolState.SKIPPED, message="not compiled")]})
    broken = Report.model_validate(broken.model_dump(exclude={"complete"}))
    assert broken.complete is False and not broken.analyzed()
    assert [f.path for f in broken.unanalyzed_files()] == ["A.sol"]
    assert broken.unfinished_runs() == []             # skipped because of the file: the file says why


def test_a_given_complete_survives_json(report):
    again = Report.model_validate_json(report.to_json())
    assert again.complete is False and again == report


def test_summary_counts_add_up(report):
    s, findings = report.summary, report.findings
    counted = report.counted()
    assert s.high + s.medium + s.low + s.informational == len(counted)
    assert s.suppressed == sum(f.suppressed is not None for f in findings)
    assert s.total == len(findings) == len(counted) + s.suppressed + s.model


def test_html_says_what_its_totals_count(report):
    page = get_format("html").render(report)
    assert '<div class="card counted"><span class="n">4</span>Counted</div>' in page
    assert "5 tool findings (4 counted, 1 suppressed). --fail-on counts only the counted findings." in page
    assert '<p class="alert incomplete">incomplete: 2 tool runs did not finish; findings may be missing.</p>' in page
