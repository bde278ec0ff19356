"""Request and response bodies, split by direction (Create in, Public out, a list envelope)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.review.registry import HOSTED_REVIEW_NAMES
from auditor.tools.registry import TOOL_NAMES

# The choices come from the registries (auditor/tools/registry.py, auditor/review/registry.py).
ToolName = Literal[TOOL_NAMES]                 # type: ignore[valid-type]
ReviewName = Literal[HOSTED_REVIEW_NAMES]      # type: ignore[valid-type]


class AuditOptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tools: list[ToolName] = Field(default=list(TOOL_NAMES), min_length=1)
    review: ReviewName = HOSTED_REVIEW_NAMES[0]
    mythril_timeout: int | None = Field(default=None, ge=1, le=3600)


class AuditCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "files": {"contracts/Counter.sol": "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\n"
                                           "contract Counter {\n    uint256 public n;\n\n"
                                           "    function inc() external { n += 1; }\n}\n"},
        "options": {"tools": ["slither"], "review": "none"}}]})
    files: dict[str, str] = Field(min_length=1, description="Relative path -> Solidity source")
    options: AuditOptionsIn = AuditOptionsIn()


class AuditAccepted(BaseModel):
    id: str
    status: str
    status_url: str
    reused: bool = Field(description="An identical submission exists; its audit is returned")


class AuditPublic(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    created_at: float
    started_at: float | None
    finished_at: float | None
    duration_s: float | None
    options: dict
    summary: dict | None
    complete: bool | None = Field(description=(
        "done: whether the report misses nothing (every file compiled, every tool run finished; the "
        "report's own `complete`); false when done with gaps, and for failed audits; null while queued "
        "or running. Only done and complete audits are reused for an identical submission."))
    error: str | None = Field(description="Why the audit failed (for 'nothing could be analyzed': each file's reason)")
    report_url: str | None = Field(description="Where the report is: done audits, and failed ones that kept theirs")


class AuditList(BaseModel):
    items: list[AuditPublic]
    total: int
    limit: int
    offset: int


class Problem(BaseModel):
    detail: str
    code: str | None = None


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """422: what is wrong with the request, one entry per field (never the submitted values)."""
    detail: list[FieldError]
