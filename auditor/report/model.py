"""The audit report (schema `solsentry.report/1`): what every output format is rendered from."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from auditor.findings import Finding, Severity

SCHEMA_ID = "solsentry.report/1"


class ToolState(StrEnum):
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"


class ToolRun(BaseModel):
    """One tool on one unit of work (a file for Slither, a contract for Mythril)."""

    tool: str
    unit: str = Field(description="File, or file:Contract, relative to the target")
    state: ToolState
    message: str | None = None
    duration_s: float = 0.0
    findings: int = 0
    cached: bool = False


class ToolInfo(BaseModel):
    name: str
    version: str
    runs: int
    ok: int
    failed: int
    timeout: int
    skipped: int


class SourceFile(BaseModel):
    path: str
    solc: str | None = None
    dependency: bool = False
    status: Literal["compiled", "error"] = "compiled"
    error: str | None = None
    sha256: str


class Summary(BaseModel):
    high: int = 0
    medium: int = 0
    low: int = 0
    informational: int = 0
    suppressed: int = 0
    total: int = 0
    likely_false: int = Field(0, description="Counted tool findings the review model judged likely false")
    model: int = Field(0, description="Findings of the review model alone (advisory; never counted)")


class ReviewInfo(BaseModel):
    """What the review step did. "failed": the tool findings are unreviewed, not absent;
    "partial": some files could not be reviewed (`message` lists them)."""

    reviewer: str = Field(description="'embedded' (the bundled encoder), 'llm', ...")
    model: str | None = Field(None, description="Model id (name@content hash)")
    state: Literal["ok", "partial", "failed"]
    message: str | None = None
    reviewed: int = 0
    likely_false: int = 0
    model_findings: int = 0
    duration_s: float = 0.0


class Report(BaseModel):
    schema_: str = Field(SCHEMA_ID, alias="schema")
    solsentry_version: str
    target: str = Field(description="The audited path as given")
    target_kind: Literal["file", "directory", "hardhat", "foundry", "truffle"]
    tools: list[ToolInfo]
    tool_runs: list[ToolRun]
    files: list[SourceFile]
    findings: list[Finding]
    summary: Summary
    review: ReviewInfo | None = Field(None, description="Null when the audit ran without review (--review none)")
    duration_s: float = 0.0

    model_config = {"populate_by_name": True}

    def counted(self) -> list[Finding]:
        """Findings that count toward the summary and --fail-on: tool findings not suppressed,
        whatever the review model's verdict (it annotates, it does not decide). Findings of the
        model alone are advisory and never counted."""
        return [f for f in self.findings if f.suppressed is None and f.origin == "tool"]

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(by_alias=True, indent=indent)


def summarize(findings: list[Finding]) -> Summary:
    s = Summary(total=len(findings))
    for f in findings:
        if f.origin == "model":
            s.model += 1
            continue
        if f.suppressed:
            s.suppressed += 1
            continue
        setattr(s, f.severity.value, getattr(s, f.severity.value) + 1)
        if f.review is not None and f.review.label == "likely_false":
            s.likely_false += 1
    return s


def fails(report: Report, level: str) -> bool:
    """Whether a counted finding is at or above `level` (high|medium|low|none)."""
    if level == "none":
        return False
    threshold = Severity(level).rank
    return any(f.severity.rank >= threshold for f in report.counted())
