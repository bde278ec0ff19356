"""The one normalized finding every tool, report, API, model prompt and on-chain hash uses."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFORMATIONAL = "informational"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1, Severity.INFORMATIONAL: 0}


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Category(StrEnum):
    """Weakness classes: the DASP top 10 that SmartBugs labels with, the classes of modern audits
    that refine them, and code quality. Each class, with its SWC ids, detectors and modules, is
    described in docs/weaknesses.md."""

    # The DASP classes (SmartBugs-curated's labels)
    REENTRANCY = "reentrancy"
    ACCESS_CONTROL = "access_control"
    ARITHMETIC = "arithmetic"
    UNCHECKED_LOW_LEVEL_CALLS = "unchecked_low_level_calls"
    DENIAL_OF_SERVICE = "denial_of_service"
    BAD_RANDOMNESS = "bad_randomness"
    FRONT_RUNNING = "front_running"
    TIME_MANIPULATION = "time_manipulation"
    SHORT_ADDRESSES = "short_addresses"
    OTHER = "other"
    # Modern classes; each refines one DASP class (`dasp`)
    SIGNATURE = "signature"                          # replay, malleability, missing verification
    ORACLE = "oracle_manipulation"                   # stale or unchecked feeds, spot-price manipulation
    PRECISION_LOSS = "precision_loss"                # rounding, division before multiplication
    UNSAFE_CAST = "unsafe_cast"                      # silent downcasts and conversions
    TOKEN_INTEGRATION = "token_integration"          # ERC-20 return values, fee-on-transfer tokens
    PROXY = "proxy"                                  # storage collision, initializers, delegatecall
    UNPROTECTED_SELFDESTRUCT = "unprotected_selfdestruct"
    ARBITRARY_CALL = "arbitrary_call"                # a caller-chosen target or calldata
    SHARE_INFLATION = "share_inflation"              # first-depositor / donation attacks on vaults
    READ_ONLY_REENTRANCY = "read_only_reentrancy"    # a view read mid-call sees inconsistent state
    CODE_QUALITY = "code_quality"

    @property
    def dasp(self) -> Category:
        """The DASP class this one refines (itself for a DASP class): what SmartBugs scores by,
        what findings are merged and identified by, so refining the taxonomy never re-keys a
        finding or a baseline."""
        return _DASP.get(self, self)

    @property
    def is_dasp(self) -> bool:
        return self.dasp is self and self is not Category.CODE_QUALITY


_DASP = {
    Category.SIGNATURE: Category.ACCESS_CONTROL,
    Category.ORACLE: Category.OTHER,
    Category.PRECISION_LOSS: Category.ARITHMETIC,
    Category.UNSAFE_CAST: Category.ARITHMETIC,
    Category.TOKEN_INTEGRATION: Category.UNCHECKED_LOW_LEVEL_CALLS,
    Category.PROXY: Category.ACCESS_CONTROL,
    Category.UNPROTECTED_SELFDESTRUCT: Category.ACCESS_CONTROL,
    Category.ARBITRARY_CALL: Category.ACCESS_CONTROL,
    Category.SHARE_INFLATION: Category.FRONT_RUNNING,
    Category.READ_ONLY_REENTRANCY: Category.REENTRANCY,
}


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str = Field(description="Path relative to the audited target, '/'-separated")
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    contract: str | None = None
    function: str | None = None
    pc: int | None = Field(None, ge=0, description="Program counter, for a finding in bytecode (file: 'runtime')")


class Reporter(BaseModel):
    """One tool detector that reported the finding."""

    model_config = ConfigDict(frozen=True)

    tool: str
    detector: str
    severity: Severity
    confidence: Confidence


class Evidence(BaseModel):
    """One code fact behind a verdict or a model finding, for a reader to check in the source."""

    model_config = ConfigDict(frozen=True)
    fact: str = Field(description="What kind of fact: e.g. 'reentrancy-guard', 'state-write-after-call'")
    detail: str = Field(description="What was seen, in words: e.g. 'modifier nonReentrant on withdraw'")
    line: int | None = Field(None, ge=1, description="Where it is, in the finding's file (1-based)")
    guard: bool = Field(False, description="A protection (speaks against the finding), not a weakness")


class Verdict(BaseModel):
    """The review's opinion of one finding. It annotates; it never removes a finding.

    "unsure": the review abstains (no protecting evidence, or code unlike what it was trained on);
    the finding stands as the tools reported it."""

    model_config = ConfigDict(frozen=True)
    label: Literal["likely_true", "likely_false", "unsure"]
    score: float = Field(ge=0, le=1, description="Probability that the finding is real, as the model puts it")
    model: str = Field(description="Id of the review model (name@content hash)")
    reason: str | None = None
    evidence: list[Evidence] = Field(default_factory=list, description="The code facts the verdict rests on")
    knowledge: str | None = Field(None, description=(
        "Knowledge-base entry of the finding's class (an id of auditor/review/knowledge/swc.yaml)"))


class Finding(BaseModel):
    id: str = Field(description="Content hash of the weakness and its place (stable across runs)")
    fingerprint: str = Field(description="Survives unrelated edits: hash of the place by name and its code")
    title: str
    swc: str | None = Field(default=None, description="SWC id such as 'SWC-107', when one applies")
    category: Category
    severity: Severity
    confidence: Confidence
    locations: list[Location] = Field(min_length=1)
    description: str
    tools: list[str]
    reporters: list[Reporter]
    suppressed: str | None = Field(
        default=None, description="Why the finding does not count: 'inline' or 'baseline'; null if it counts")
    origin: Literal["tool", "model"] = Field(
        default="tool", description="'model': found by the review model alone, not by any tool (advisory)")
    review: Verdict | None = Field(default=None, description="The review model's verdict on a tool finding")

    @property
    def primary(self) -> Location:
        return self.locations[0]


def sort_key(f: Finding) -> tuple:
    return (-f.severity.rank, f.primary.file, f.primary.start_line, f.category, f.title, f.id)


def _sha(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]


def finding_id(category: str, swc: str | None, loc: Location, anchor: Location | None = None) -> str:
    """`anchor`: where the tool placed the weakness when that is not the primary location (e.g. the
    function a reentrancy is in, when the primary place is the external call it shares with other
    functions). Without it, findings that share their most specific place would share an id."""
    parts: list[object] = [category, swc or "", loc.file, loc.start_line, loc.end_line, loc.contract or "",
                           loc.function or ""]
    if loc.pc is not None:
        parts += ["pc", loc.pc]
    if anchor is not None and anchor != loc:
        parts += ["@", anchor.file, anchor.start_line, anchor.end_line, anchor.contract or "", anchor.function or ""]
    return _sha(*parts)


def fingerprint(category: str, swc: str | None, loc: Location, source_lines: list[str],
                anchor: Location | None = None) -> str:
    """A place named by file, contract and function plus the flagged code with whitespace removed
    (and the anchor's file, contract and function, when it names another scope: see `finding_id`).

    Line numbers are left out on purpose: code added above a finding moves it, but does not
    make it a new finding (Slither's line-keyed triage database re-reports it; crytic/slither#1965).
    """
    snippet = "".join(source_lines[loc.start_line - 1 : loc.end_line])
    code = re.sub(r"\s+", "", snippet)
    parts: list[object] = [category, swc or "", loc.file, loc.contract or "", loc.function or "", code]
    if anchor is not None and _scope(anchor) != _scope(loc):
        parts += ["@", *_scope(anchor)]
    return _sha(*parts)


def _scope(loc: Location) -> tuple[str, str, str]:
    return loc.file, loc.contract or "", loc.function or ""
