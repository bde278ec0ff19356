"""The audit report (schema `solsentry.report/1`): what every output format is rendered from."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from auditor.findings import Finding, Severity

SCHEMA_ID = "solsentry.report/1"
# Additions that old readers may ignore bump the minor version (1: bytecode targets, `bytecode`, `Location.pc`;
# 2: PR mode, `diff`; 3: the modern weakness classes, verdict `unsure`, `evidence` and `knowledge`, `review.unsure`).
SCHEMA_MINOR = 3


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


class CompilerSettings(BaseModel):
    """The solc settings a file was compiled with: the project's config, or the viaIR retry."""

    optimizer: bool = False
    runs: int = 200
    via_ir: bool = False
    evm_version: str | None = Field(None, description="Null: the compiler's default EVM version")


class SourceFile(BaseModel):
    path: str
    solc: str | None = Field(None, description=(
        "The solc version that compiled the file (for a file that did not compile: the one whose errors "
        "are reported)"))
    solc_note: str | None = Field(None, description=(
        "Set when the compiler or its settings were not the first choice: a fallback to an older "
        "release, the optimizer+viaIR retry for 'Stack too deep', a configured compiler that could "
        "not be used"))
    compiler_settings: CompilerSettings | None = Field(None, description=(
        "The settings used (from the project's config where it sets them); null when not compiled"))
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
    reviewed: int = Field(0, description="Tool findings that carry a verdict (suppressed ones included)")
    likely_false: int = Field(0, description="Of those, judged likely false (summary.likely_false: the counted ones)")
    unsure: int = Field(0, description="Of those, left undecided: the review abstained (`unsure`)")
    model_findings: int = Field(0, description="Findings of the review model alone (= summary.model)")
    duration_s: float = 0.0


class BytecodeInfo(BaseModel):
    """The audited runtime code of a bytecode target (target_kind "bytecode")."""

    codehash: str = Field(description="keccak256 of the runtime code, 0x-prefixed")
    code_size: int = Field(ge=0, description="Bytes of runtime code")
    address: str | None = Field(None, description="Where the code was read (0x-prefixed), if known")
    chain_id: int | None = Field(None, description="The chain's id, if known")


class DiffInfo(BaseModel):
    """PR mode (`--diff REF`, `--diff-from REPORT.json`): the report holds only the findings whose
    fingerprint the base audit lacks; the summary counts those."""

    base: str = Field(description="What was compared with: the git ref as given, or the base report's file name")
    base_commit: str | None = Field(None, description="The commit the ref named (full sha); null for a base report")
    base_complete: bool = Field(True, description=(
        "The base audit was complete; false: base findings may be missing, so some reported ones may be old"))
    new: int = Field(ge=0, description="Findings absent from the base (the ones in `findings`)")
    fixed: int = Field(ge=0, description="Fingerprints of the base that the head no longer has")
    unchanged: int = Field(ge=0, description="Findings of the head also found at the base (left out)")


class Report(BaseModel):
    schema_: str = Field(SCHEMA_ID, alias="schema")
    solsentry_version: str
    target: str = Field(description="The audited path as given")
    target_kind: Literal["file", "directory", "hardhat", "foundry", "truffle", "bytecode"]
    tools: list[ToolInfo]
    tool_runs: list[ToolRun]
    files: list[SourceFile]
    findings: list[Finding]
    summary: Summary
    review: ReviewInfo | None = Field(None, description="Null when the audit ran without review (--review none)")
    bytecode: BytecodeInfo | None = Field(None, description="The runtime code, for a bytecode target; else null")
    diff: DiffInfo | None = Field(None, description="PR mode: what the findings were compared with; else null")
    complete: bool = Field(True, description=(
        "Every own file compiled and every tool run finished (state 'ok'); false: findings may be "
        "missing (see `files` and `tool_runs`). Derived from them when not given."))
    duration_s: float = 0.0

    model_config = {"populate_by_name": True}

    @model_validator(mode="after")
    def _derive_complete(self) -> Report:
        # A report built without saying (older code, tests) states what its files and runs show.
        if "complete" not in self.model_fields_set:
            self.complete = is_complete(self.files, self.tool_runs)
        return self

    def unanalyzed_files(self) -> list[SourceFile]:
        """Own files that could not be analyzed (not compiled, refused, too large)."""
        return [f for f in self.files if not f.dependency and f.status == "error"]

    def unfinished_runs(self) -> list[ToolRun]:
        """Tool runs that did not finish, less those skipped only because their file is unanalyzed
        (the file says why)."""
        broken = {f.path for f in self.unanalyzed_files()}
        return [r for r in self.tool_runs if r.state != ToolState.OK
                and not (r.state == ToolState.SKIPPED and (r.unit in broken or r.unit.rsplit(":", 1)[0] in broken))]

    def analyzed(self) -> bool:
        """Whether anything was analyzed: some own file compiled, and some tool run finished (or
        none was due: e.g. Mythril alone on interfaces). False is the CLI's "nothing could be
        analyzed" / "every tool run failed" and the API's `failed`."""
        compiled = self.target_kind == "bytecode" or any(f.status == "compiled" for f in self.files
                                                         if not f.dependency)
        return compiled and (not self.tool_runs or any(r.state == ToolState.OK for r in self.tool_runs))

    def counted(self) -> list[Finding]:
        """Findings that count toward the summary and --fail-on: tool findings not suppressed,
        whatever the review model's verdict (it annotates, it does not decide). Findings of the
        model alone are advisory and never counted."""
        return [f for f in self.findings if f.suppressed is None and f.origin == "tool"]

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(by_alias=True, indent=indent)


def is_complete(files: list[SourceFile], runs: list[ToolRun]) -> bool:
    """`Report.complete`: no own file failed to compile (or was refused) and every tool run is `ok`
    (not failed, timed out or skipped). The review step does not enter: it annotates."""
    return (all(f.status == "compiled" for f in files if not f.dependency)
            and all(r.state == ToolState.OK for r in runs))


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
