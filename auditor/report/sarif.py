"""SARIF 2.1.0 output, for GitHub code scanning and other SARIF viewers.

One run, driver "SolSentry"; Slither, Mythril etc. are the driver's extensions. A rule is an SWC
weakness where the finding has one, else the detector of the first tool that reported it. See
docs/report-schema.md ("SARIF mapping") for the full mapping.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from auditor.findings import Category, Confidence, Finding, Location, Severity
from auditor.report.base import ReportFormat
from auditor.report.model import SCHEMA_ID, Report, SourceFile, ToolRun, ToolState
from auditor.report.text import evidence_text, swc_url, verdict_lines
from auditor.swc import SWC_TITLES

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/solsentry/solsentry"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "solsentry/v1"

LEVELS = {
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFORMATIONAL: "note",
}
# GitHub code scanning ranks security alerts by this number (critical >= 9, high >= 7, medium >= 4,
# low > 0); informational rules get none.
SECURITY_SEVERITY = {
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}
PRECISION = {Confidence.HIGH: "high", Confidence.MEDIUM: "medium", Confidence.LOW: "low"}
SUPPRESSION_KINDS = {"inline": "inSource", "baseline": "external"}


class SarifFormat(ReportFormat):
    NAME = "sarif"
    EXTENSION = ".sarif"
    MEDIA_TYPE = "application/sarif+json"
    DESCRIPTION = "SARIF 2.1.0, for GitHub code scanning and SARIF viewers"

    def render(self, report: Report) -> str:
        return json.dumps(to_sarif(report), indent=2, ensure_ascii=False)


def rule_id(finding: Finding) -> str:
    """The SARIF rule of a finding: its SWC id, else `tool/detector` of its first reporter."""
    if finding.swc:
        return finding.swc
    if finding.reporters:
        first = finding.reporters[0]
        return f"{first.tool}/{first.detector}"
    return f"solsentry/{finding.category.value}"


def artifact_uri(path: str) -> str:
    """A relative URI reference for a '/'-separated path relative to the target."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return quote(path.lstrip("/"), safe="/-._~!$&'()*+,;=@")


def to_sarif(report: Report) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log (a JSON-ready dict)."""
    rules, index = _rules(report.findings)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "SolSentry",
                "version": report.solsentry_version,
                "semanticVersion": report.solsentry_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            },
            "extensions": [
                {"name": t.name, **({"version": t.version} if t.version else {}),
                 "properties": {"runs": t.runs, "ok": t.ok, "failed": t.failed, "timeout": t.timeout,
                                "skipped": t.skipped}}
                for t in report.tools
            ],
        },
        "invocations": [_invocation(report)],
        "originalUriBaseIds": {
            SRCROOT: {"description": {"text": f"The audited target: {report.target}"}},
        },
        "artifacts": [
            _artifact(f) for f in report.files
        ],
        "results": [_result(f, index) for f in report.findings],
        "columnKind": "unicodeCodePoints",
        "properties": {
            "schema": SCHEMA_ID,
            "target": report.target,
            "targetKind": report.target_kind,
            "summary": report.summary.model_dump(),
            "complete": report.complete,
            "durationSeconds": report.duration_s,
            # PR mode: `results` are the new findings only; what they were compared with.
            **({"diff": report.diff.model_dump()} if report.diff is not None else {}),
        },
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _artifact(f: SourceFile) -> dict[str, Any]:
    artifact: dict[str, Any] = {
        "location": {"uri": artifact_uri(f.path), "uriBaseId": SRCROOT},
        "hashes": {"sha-256": f.sha256},
    }
    if not f.dependency:
        artifact["roles"] = ["analysisTarget"]
    props: dict[str, Any] = {"dependency": f.dependency, "status": f.status}
    if f.solc:
        props["solc"] = f.solc
    if f.error:
        props["error"] = f.error
    artifact["properties"] = props
    return artifact


def _rules(findings: list[Finding]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(rule_id(f), []).append(f)
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for rid in sorted(grouped):
        group = grouped[rid]
        worst = max(group, key=lambda f: f.severity.rank)
        surest = max(group, key=lambda f: _CONFIDENCE_RANK[f.confidence])
        swc = group[0].swc
        detectors = sorted({f"{r.tool}/{r.detector}" for f in group for r in f.reporters})
        categories = sorted({f.category.value for f in group})
        short = f"{swc}: {SWC_TITLES[swc]}" if swc in SWC_TITLES else (swc or worst.title)
        full = f"Category: {', '.join(categories)}."
        if detectors:
            full = f"{full} Reported by: {', '.join(detectors)}."
        security = any(c != Category.CODE_QUALITY.value for c in categories)
        properties: dict[str, Any] = {
            "tags": [*(["security"] if security else []), "solidity", *categories, *([swc] if swc else [])],
            "precision": PRECISION[surest.confidence],
            "detectors": detectors,
        }
        if security and worst.severity in SECURITY_SEVERITY:
            properties["security-severity"] = SECURITY_SEVERITY[worst.severity]
        rule: dict[str, Any] = {
            "id": rid,
            "name": _rule_name(SWC_TITLES.get(swc or "", rid)),
            "shortDescription": {"text": short},
            "fullDescription": {"text": full},
            "defaultConfiguration": {"level": LEVELS[worst.severity]},
            "properties": properties,
        }
        if url := swc_url(swc):
            rule["helpUri"] = url
        index[rid] = len(rules)
        rules.append(rule)
    return rules, index


_CONFIDENCE_RANK = {Confidence.HIGH: 2, Confidence.MEDIUM: 1, Confidence.LOW: 0}


def _rule_name(text: str) -> str:
    """PascalCase of the words in `text`: 'Reentrancy', 'SlitherNamingConvention'."""
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", text) if w)


def _physical(loc: Location) -> dict[str, Any]:
    return {
        "artifactLocation": {"uri": artifact_uri(loc.file), "uriBaseId": SRCROOT},
        "region": {"startLine": loc.start_line, "endLine": max(loc.start_line, loc.end_line)},
    }


def _logical(loc: Location) -> list[dict[str, Any]]:
    if loc.contract and loc.function:
        return [{"name": loc.function, "fullyQualifiedName": f"{loc.contract}.{loc.function}", "kind": "function"}]
    if loc.contract:
        return [{"name": loc.contract, "fullyQualifiedName": loc.contract, "kind": "type"}]
    if loc.function:
        return [{"name": loc.function, "fullyQualifiedName": loc.function, "kind": "function"}]
    return []


def _location(loc: Location, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {**extra, "physicalLocation": _physical(loc)}
    if logical := _logical(loc):
        out["logicalLocations"] = logical
    return out


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    rid = rule_id(f)
    text = f.title if not f.description.strip() else f"{f.title}\n\n{f.description.strip()}"
    if f.review is not None:
        # Viewers show the message, not the properties: the verdict has to be readable there.
        text += "\n\n" + "\n".join(verdict_lines(f.review))
    result: dict[str, Any] = {
        "ruleId": rid,
        "ruleIndex": index[rid],
        "level": LEVELS[f.severity],
        "message": {"text": text},
        "locations": [_location(f.primary)],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {
            "id": f.id,
            "title": f.title,
            "swc": f.swc,
            "category": f.category.value,
            "severity": f.severity.value,
            "confidence": f.confidence.value,
            "tools": list(f.tools),
            "detectors": [
                {"tool": r.tool, "detector": r.detector, "severity": r.severity.value,
                 "confidence": r.confidence.value}
                for r in f.reporters
            ],
            "origin": f.origin,
            "review": f.review.model_dump() if f.review else None,
        },
    }
    if f.origin == "model":
        # SARIF's "review" kind: a result that needs a person to decide (the model alone found it).
        result["kind"] = "review"
    related = [_location(loc, id=i, message={"text": "Also involved"}) for i, loc in enumerate(f.locations[1:], 1)]
    # Evidence with a line becomes a related location too, so a viewer links the fact to its code.
    for ev in (f.review.evidence if f.review else []):
        if ev.line:
            at = f.primary.model_copy(update={"start_line": ev.line, "end_line": ev.line})
            related.append({"id": len(related) + 1, "message": {"text": f"Review evidence: {evidence_text(ev)}"},
                            "physicalLocation": _physical(at)})
    if related:
        result["relatedLocations"] = related
    if f.suppressed:
        result["suppressions"] = [{
            "kind": SUPPRESSION_KINDS.get(f.suppressed, "external"),
            "status": "accepted",
            "justification": f"Suppressed by SolSentry ({f.suppressed})",
        }]
    return result


# A skipped run (the tool is not installed) leaves findings out as a failed one does, but nothing broke.
_NOTIFIED = {ToolState.FAILED: "error", ToolState.TIMEOUT: "error", ToolState.SKIPPED: "warning"}


def _invocation(report: Report) -> dict[str, Any]:
    # Unsuccessful when the audit is incomplete (`Report.complete`): one notification per own file
    # that could not be analyzed and per tool run that did not finish, so a viewer says what is missing.
    notes = [_file_notification(f) for f in report.unanalyzed_files()]
    notes += [_notification(r) for r in report.unfinished_runs()]
    invocation: dict[str, Any] = {"executionSuccessful": report.complete and not notes}
    if notes:
        invocation["toolExecutionNotifications"] = notes
    invocation["properties"] = {
        "toolRuns": len(report.tool_runs),
        "failed": sum(r.state is ToolState.FAILED for r in report.tool_runs),
        "timeout": sum(r.state is ToolState.TIMEOUT for r in report.tool_runs),
        "skipped": sum(r.state is ToolState.SKIPPED for r in report.tool_runs),
    }
    return invocation


def _file_notification(f: SourceFile) -> dict[str, Any]:
    return {
        "descriptor": {"id": "file-not-analyzed"},
        "level": "error",
        "message": {"text": f"{f.path} could not be analyzed: {f.error or 'not compiled'}"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(f.path), "uriBaseId": SRCROOT}}}],
        "properties": {"file": f.path, "status": f.status},
    }


def _notification(run: ToolRun) -> dict[str, Any]:
    what = {ToolState.TIMEOUT: "timed out", ToolState.SKIPPED: "was skipped"}.get(run.state, "failed")
    text = f"{run.tool} {what} on {run.unit}"
    if run.message:
        text = f"{text}: {run.message}"
    return {
        "descriptor": {"id": f"tool-{run.state.value}"},
        "level": _NOTIFIED[run.state],
        "message": {"text": text},
        "properties": {"tool": run.tool, "unit": run.unit, "state": run.state.value,
                       "durationSeconds": run.duration_s},
    }
