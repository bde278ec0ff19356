"""Report bookkeeping that adds up (issue 13, point 6): real audits (Slither, the embedded review
model) of every fixture project and file set, and of the field corpus; every id unique, every count
equal to the findings it describes, the review block equal to the verdicts the findings carry."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from auditor.findings import Severity
from auditor.pipeline import AuditOptions, audit
from auditor.report.model import Report, ToolState, is_complete
from auditor.report.registry import get_format

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
FIELD = ROOT.parent / "shared" / "field"       # read where it is, never copied
FIELD_PROJECTS = ("solmate", "uniswap-v2-core", "aave-v3-core")


def _fixture_targets() -> list[Path]:
    """Each framework project, each folder of Solidity fixtures, the labelled files and the examples:
    found on disk, so that a fixture added later is covered too."""
    groups = [FIXTURES / "projects", FIXTURES / "solidity"]
    targets = [d for g in groups if g.is_dir() for d in sorted(g.iterdir()) if d.is_dir() and any(d.rglob("*.sol"))]
    return [*targets, FIXTURES / "labelled" / "dataset", ROOT / "examples"]


def _audit(target: Path) -> Report:
    # Slither only (Mythril's budget would dominate and adds nothing to the bookkeeping); the embedded
    # review on, so that verdicts and model findings are counted too.
    return audit(target, AuditOptions(tools=("slither",), review="embedded", jobs=2))


def check_bookkeeping(report: Report) -> None:
    findings = report.findings
    dup = [i for i, n in Counter(f.id for f in findings).items() if n > 1]
    assert not dup, f"finding ids repeat: {dup}"
    tool = [f for f in findings if f.origin == "tool"]
    model = [f for f in findings if f.origin == "model"]
    counted = report.counted()
    s = report.summary
    for sev in Severity:
        assert getattr(s, sev.value) == sum(f.severity == sev for f in counted), sev
    assert s.suppressed == sum(f.suppressed is not None for f in tool)
    assert s.model == len(model)
    assert s.total == len(findings) == len(counted) + s.suppressed + s.model
    assert s.likely_false == sum(f.review is not None and f.review.label == "likely_false" for f in counted)
    # The review block counts what the findings carry (suppressed ones are reviewed too).
    r = report.review
    assert r is not None and r.state in ("ok", "partial"), r
    judged = [f for f in tool if f.review is not None]
    assert r.reviewed == len(judged)
    assert r.likely_false == sum(f.review.label == "likely_false" for f in judged)
    assert r.model_findings == s.model
    if not any(f.suppressed for f in tool):
        assert r.likely_false == s.likely_false
    # Tool run counts, completeness and the SARIF view of both.
    for info in report.tools:
        mine = [run for run in report.tool_runs if run.tool == info.name]
        assert info.runs == len(mine)
        assert [info.ok, info.failed, info.timeout, info.skipped] == [
            sum(run.state == st for run in mine) for st in
            (ToolState.OK, ToolState.FAILED, ToolState.TIMEOUT, ToolState.SKIPPED)]
    assert report.complete == is_complete(report.files, report.tool_runs)
    (run,) = json.loads(get_format("sarif").render(report))["runs"]
    assert len(run["results"]) == len(findings)
    assert run["invocations"][0]["executionSuccessful"] is report.complete


@pytest.mark.parametrize("target", _fixture_targets(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_fixture_reports_add_up(target):
    report = _audit(target)
    check_bookkeeping(report)
    if target.name == "shared-places":
        # The case that repeated ids: findings whose most specific place is the same (a call two
        # functions make, a payable function two contracts inherit). Still there, still apart.
        shared = Counter((f.category, f.swc, f.primary) for f in report.findings)
        assert sorted(n for n in shared.values() if n > 1) == [2, 2], shared


@pytest.mark.slow
@pytest.mark.parametrize("name", FIELD_PROJECTS)
def test_field_reports_add_up(name):
    target = FIELD / name
    if not target.is_dir():
        pytest.skip(f"field corpus not present at {target}")
    # Files that do not compile here are another matter (compiler choice and settings): not asserted on.
    check_bookkeeping(_audit(target))
