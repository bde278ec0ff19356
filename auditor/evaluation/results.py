"""The results of scoring (auditor/evaluation/scoring.py): per-category counts with recall, precision
and F1, per tool and per scope, the per-SWC-id recall of datasets labelled by SWC id, each label's
outcome, the audit's own statistics, and the `solsentry.eval/1` document they make
(`EvalScores.to_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.findings import Category
from auditor.swc import swc_title

SCHEMA_ID = "solsentry.eval/1"
MERGED = "merged"
LINE_TOLERANCE = 2
# Scored by DASP class: a finding or label of a modern class counts toward the DASP class it refines.
SCORED_CATEGORIES: tuple[Category, ...] = tuple(c for c in Category if c.is_dasp)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class Counts:
    labels: int = 0
    found: int = 0
    findings: int = 0
    matching: int = 0

    @property
    def recall(self) -> float | None:
        return _ratio(self.found, self.labels)

    @property
    def precision(self) -> float | None:
        return _ratio(self.matching, self.findings)

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.labels + other.labels, self.found + other.found, self.findings + other.findings,
                      self.matching + other.matching)

    def to_dict(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {"labels": self.labels, "found": self.found, "findings": self.findings, "matching": self.matching,
                "recall": r(self.recall), "precision": r(self.precision), "f1": r(self.f1)}


@dataclass
class ToolScores:
    tool: str
    categories: dict[str, Counts] = field(metadata={"doc": "Category value -> counts, every scored category"})
    excluded: int = field(default=0, metadata={"doc": "code_quality findings in scope (never scored)"})

    @property
    def total(self) -> Counts:
        total = Counts()
        for c in self.categories.values():
            total = total + c
        return total

    def to_dict(self) -> dict:
        return {"tool": self.tool, "categories": {k: v.to_dict() for k, v in self.categories.items()},
                "total": self.total.to_dict(), "excluded": self.excluded}


@dataclass
class SwcScores:
    """Recall on the labels of one SWC id. Labels are matched by class (as every label is), not by
    the finding's SWC id, so this splits the class recall by id; there is no per-id precision, as a
    finding is no more attached to one id of its class than to another."""

    swc: str
    categories: list[str] = field(metadata={"doc": "The (DASP) classes its labels are scored as"})
    labels: int = 0
    found: dict[str, int] = field(default_factory=dict, metadata={"doc": "Tool (and 'merged') -> labels found"})

    def recall(self, tool: str) -> float | None:
        return _ratio(self.found.get(tool, 0), self.labels)

    def to_dict(self) -> dict:
        return {"swc": self.swc, "title": swc_title(self.swc), "categories": self.categories, "labels": self.labels,
                "found": self.found,
                "recall": {t: None if (r := self.recall(t)) is None else round(r, 4) for t in self.found}}


@dataclass
class ScopeScores:
    scope: str
    files: int
    labels: int
    lines: int
    files_compiled: int = field(metadata={"doc": "Labelled files the report lists as compiled"})
    files_error: int = field(metadata={"doc": "Labelled files the report lists with a compile error"})
    files_missing: int = field(metadata={"doc": "Labelled files the report does not list"})
    tools: dict[str, ToolScores] = field(metadata={"doc": "Tool -> scores; 'merged' last"})
    swc: dict[str, SwcScores] = field(default_factory=dict, metadata={
        "doc": "SWC id -> recall on its labels, for the labels that carry one (by id; none for SmartBugs)"})

    def to_dict(self) -> dict:
        return {"scope": self.scope, "files": self.files, "labels": self.labels, "lines": self.lines,
                "files_compiled": self.files_compiled, "files_error": self.files_error,
                "files_missing": self.files_missing, "tools": {k: v.to_dict() for k, v in self.tools.items()},
                "swc": {k: v.to_dict() for k, v in self.swc.items()}}


@dataclass
class LabelResult:
    file: str
    category: str
    lines: tuple[int, ...]
    found_by: list[str] = field(metadata={"doc": "Tools (and 'merged') that found it"})
    scopes: list[str]
    swc: str | None = None

    def to_dict(self) -> dict:
        return {"file": self.file, "category": self.category, "lines": list(self.lines), "found_by": self.found_by,
                "scopes": self.scopes, "swc": self.swc}


@dataclass
class ToolRunStats:
    runs: int = 0
    ok: int = 0
    failed: int = 0
    timeout: int = 0
    skipped: int = 0


@dataclass
class AuditStats:
    target: str
    files: int = field(metadata={"doc": "Source files audited (dependencies left out)"})
    compiled: int
    errors: int
    error_files: list[str]
    findings: int = field(metadata={"doc": "Findings considered (suppressed ones too unless left out)"})
    findings_outside: int = field(metadata={"doc": "Of those, findings in no labelled file"})
    tool_runs: dict[str, ToolRunStats]

    def to_dict(self) -> dict:
        return {"target": self.target, "files": self.files, "compiled": self.compiled, "errors": self.errors,
                "error_files": self.error_files, "findings": self.findings, "findings_outside": self.findings_outside,
                "tool_runs": {k: vars(v).copy() for k, v in self.tool_runs.items()}}


@dataclass
class EvalScores:
    dataset: str
    tools: list[str] = field(metadata={"doc": "Tools scored one by one ('merged' is added to each scope)"})
    scopes: list[ScopeScores]
    labels: list[LabelResult]
    audit: AuditStats
    include_suppressed: bool = True
    line_tolerance: int = LINE_TOLERANCE
    skipped: dict[str, int] = field(default_factory=dict, metadata={
        "doc": "The dataset's labels left out as never scored (code quality), by SWC id or category"})

    def scope(self, name: str) -> ScopeScores:
        for s in self.scopes:
            if s.scope == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA_ID,
            "dataset": self.dataset,
            "protocol": {"line_tolerance": self.line_tolerance, "include_suppressed": self.include_suppressed,
                         "label_unit": "vulnerability (any of its lines)",
                         "excluded_categories": [Category.CODE_QUALITY.value], "merged": MERGED},
            "tools": self.tools,
            "audit": self.audit.to_dict(),
            "scopes": [s.to_dict() for s in self.scopes],
            "labels": [lr.to_dict() for lr in self.labels],
            "skipped_labels": self.skipped,
        }
