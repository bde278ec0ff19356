"""The review's verdicts in the file formats: JSON (through the committed schema), SARIF, Markdown and
HTML each carry the label (unsure included), score, reason, every evidence item and the knowledge entry."""

from __future__ import annotations

import json
from html import escape
from html.parser import HTMLParser

import pytest
from jsonschema import Draft202012Validator

from auditor.report.json_format import load_schema
from auditor.report.model import SCHEMA_MINOR, Report
from auditor.report.registry import get_format
from auditor.report.text import knowledge_text

LIKELY_FALSE, UNSURE, LIKELY_TRUE, MODEL = range(4)     # the order of the `reviewed_findings` fixture
ORACLE = knowledge_text("SOLSENTRY-ORACLE")             # its title, once the knowledge base has the entry


# JSON


def test_json_round_trips_through_the_schema(reviewed_report):
    data = json.loads(get_format("json").render(reviewed_report))
    errors = sorted(Draft202012Validator(load_schema()).iter_errors(data), key=str)
    assert not errors, errors[0]
    assert Report.model_validate(data) == reviewed_report
    assert [f["review"]["label"] for f in data["findings"]] == ["likely_false", "unsure", "likely_true",
                                                                "likely_true"]
    guard = data["findings"][LIKELY_FALSE]["review"]
    assert guard["evidence"] == [{"fact": "reentrancy-guard", "detail": "modifier nonReentrant on withdraw",
                                  "line": 12, "guard": True}]
    assert guard["knowledge"] == "SWC-107" and guard["score"] == 0.12
    assert data["findings"][MODEL]["category"] == "oracle_manipulation"
    assert data["findings"][MODEL]["origin"] == "model"
    assert data["review"]["unsure"] == 1


def test_schema_knows_the_new_fields_and_rejects_unknown_labels(reviewed_report):
    schema = load_schema()
    assert schema["x-minor-version"] == SCHEMA_MINOR == 3
    assert "unsure" in schema["$defs"]["Verdict"]["properties"]["label"]["enum"]
    assert {"read_only_reentrancy", "oracle_manipulation", "share_inflation"} <= set(
        schema["$defs"]["Category"]["enum"])
    validator = Draft202012Validator(schema)
    for path, bad in ((("label",), "maybe"), (("evidence", 0, "line"), 0), (("evidence", 0, "guard"), "yes")):
        data = json.loads(reviewed_report.to_json())
        node = data["findings"][LIKELY_FALSE]["review"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = bad
        assert not validator.is_valid(data), path


# SARIF


@pytest.fixture
def results(reviewed_report, validate_sarif) -> list[dict]:
    log = json.loads(get_format("sarif").render(reviewed_report))
    validate_sarif(log)
    return log["runs"][0]["results"]


def test_sarif_properties_carry_the_review(results, reviewed_report):
    for result, finding in zip(results, reviewed_report.findings, strict=True):
        review = result["properties"]["review"]
        assert finding.review is not None
        assert review == finding.review.model_dump()
        assert {"label", "score", "reason", "evidence", "knowledge"} <= set(review)
    assert results[LIKELY_FALSE]["properties"]["review"]["evidence"] == [
        {"fact": "reentrancy-guard", "detail": "modifier nonReentrant on withdraw", "line": 12, "guard": True}]
    assert results[UNSURE]["properties"]["review"]["label"] == "unsure"
    assert results[MODEL]["properties"]["review"]["knowledge"] == "SOLSENTRY-ORACLE"


def test_sarif_message_says_the_verdict(results):
    text = results[LIKELY_FALSE]["message"]["text"]
    assert text.startswith("Reentrancy in Vault.withdraw\n\nReview: likely false (score 0.120, ")
    assert "Reason: withdraw is guarded by nonReentrant" in text
    assert "Protection: modifier nonReentrant on withdraw (line 12)" in text
    assert "Knowledge: SWC-107: Reentrancy" in text
    assert "Review: unsure (score 0.480, " in results[UNSURE]["message"]["text"]
    assert "Evidence: return value of <script>alert(1)</script> call ignored (line 40)" in (
        results[LIKELY_TRUE]["message"]["text"])
    assert f"Knowledge: {ORACLE}" in results[MODEL]["message"]["text"]


def test_sarif_evidence_lines_are_related_locations(results):
    (related,) = results[LIKELY_FALSE]["relatedLocations"]
    assert related["physicalLocation"]["region"] == {"startLine": 12, "endLine": 12}
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "contracts/Vault.sol"
    assert "modifier nonReentrant on withdraw" in related["message"]["text"]
    assert "relatedLocations" not in results[UNSURE]                 # no evidence, one location


def test_sarif_verdicts_never_suppress(results):
    # likely_false and unsure annotate: neither makes a result suppressed or changes its kind.
    assert all("suppressions" not in r and "baselineState" not in r for r in results)
    assert [r.get("kind") for r in results] == [None, None, None, "review"]


# Markdown


def test_markdown_lists_the_verdicts(reviewed_report):
    md = get_format("md").render(reviewed_report)
    assert "1 likely false, 1 unsure \\(left as reported\\)" in md.split("## Summary")[0]
    findings, model = md.split("## Findings of the review model alone (1)")
    assert "- **Review model:** likely false \\(score 0.120, solsentry-review-minilm@0123abcd\\)" in findings
    assert "  - **Reason:** withdraw is guarded by nonReentrant" in findings
    assert "  - **Protection:** `reentrancy-guard` modifier nonReentrant on withdraw \\(line 12\\)" in findings
    assert "  - **Knowledge:** SWC-107: Reentrancy" in findings
    assert "- **Review model:** unsure \\(score 0.480, " in findings
    assert "  - **Evidence:** `unchecked-return` return value of \\<script\\>alert\\(1\\)\\</script\\> call " \
           "ignored \\(line 40\\)" in findings
    assert "<script>" not in md
    assert "#### M1. Price read from a manipulable pool" in model
    assert "- **Review model:** likely true \\(score 0.830, " in model
    assert "**Evidence:** `spot-price-read` price from getReserves\\(\\) used without a TWAP \\(line 55\\)" in model
    assert ORACLE is not None and f"  - **Knowledge:** {ORACLE}" in model


# HTML


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_html_details_show_the_verdicts_escaped(reviewed_report):
    page = get_format("html").render(reviewed_report)
    parser = _Elements()
    parser.feed(page)
    assert "script" not in parser.tags and "<script>" not in page
    assert "return value of &lt;script&gt;alert(1)&lt;/script&gt; call ignored (line 40)" in page
    assert ('<li class="guard"><code>reentrancy-guard</code> modifier nonReentrant on withdraw '
            "(line 12, protection)</li>") in page
    assert "price from getReserves() used without a TWAP (line 55)" in page
    assert '<a href="https://swcregistry.io/docs/SWC-107">SWC-107: Reentrancy</a>' in page
    assert f"<dt>Knowledge</dt><dd>{escape(ORACLE or '')}</dd>" in page
    assert "<dt>Reason</dt><dd>withdraw is guarded by nonReentrant, so the external call cannot re-enter</dd>" in page
    assert "<dd>unsure (score 0.480, solsentry-review-minilm@0123abcd)</dd>" in page
    # The findings table: one cell per verdict, "unsure" styled apart (never as likely false).
    assert '<span class="verdict unsure">unsure</span> 0.48' in page
    assert '<span class="verdict likely_false">likely false</span> 0.12' in page
    assert '<span class="verdict likely_true">likely true</span> 0.91' in page
    assert "1 likely false, 1 unsure (left as reported)" in page


@pytest.mark.parametrize("name", ["json", "sarif", "md", "html"])
def test_reviewed_rendering_is_deterministic(name, reviewed_report):
    fmt = get_format(name)
    assert fmt.render(reviewed_report) == fmt.render(reviewed_report.model_copy(deep=True))
