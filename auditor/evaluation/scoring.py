"""Score an audit report against a labelled dataset, as the ICSE 2020 SmartBugs study did.

Protocol (Durieux et al., "Empirical Review of Automated Analysis Tools on 47,587 Ethereum
Smart Contracts", ICSE 2020):

* A label (file, category, line) is *found* when a finding of the same category has a location
  in that file that covers the line (start_line <= line <= end_line) or starts within
  `LINE_TOLERANCE` (2) lines of it. A label spanning several lines is one vulnerability, found
  when any of its lines is.
* Recall of a category = found labels / labels. Precision = findings that match a label of their
  category / findings of that category. F1 is their harmonic mean. Totals are micro-averaged (sums
  over the scored categories). A ratio with a zero denominator is None (shown as "-").
* Only findings with a location in a labelled file count; findings elsewhere are reported as
  `findings_outside` and otherwise ignored.
* `code_quality` is never a SmartBugs category: such findings never match and are left out of
  precision (reported as `excluded`). `other` is a SmartBugs category (the curated set labels a
  few files with it): `other` findings count toward precision and can match `other` labels.
* Suppressed findings count (by default): suppressions are a project's triage, and an evaluation
  measures what the detectors report. Pass include_suppressed=False to leave them out.
* Per tool: the findings that tool reported (it is in `finding.tools` or among its reporters).
  "merged": all findings, whichever tool reported them.
* Scopes: "all" labelled files, plus each subset the dataset names (SmartBugs: "icse2020",
  the 69 files of the study).

Precision is a lower bound: the curated labels are not exhaustive, so a finding of a real but
unlabelled weakness counts as a false positive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from auditor.evaluation.dataset import LabelledDataset
from auditor.findings import Category, Finding, Location
from auditor.report.model import Report

SCHEMA_ID = "solsentry.eval/1"
MERGED = "merged"
ALL_SCOPE = "all"
LINE_TOLERANCE = 2
SCORED_CATEGORIES: tuple[Category, ...] = tuple(c for c in Category if c is not Category.CODE_QUALITY)


def location_hits(loc: Location, line: int, tolerance: int = LINE_TOLERANCE) -> bool:
    """Whether a location covers `line` or starts within `tolerance` lines of it."""
    return loc.start_line <= line <= loc.end_line or abs(loc.start_line - line) <= tolerance


# --------------------------------------------------------------------------------------------
# Results


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
class ScopeScores:
    scope: str
    files: int
    labels: int
    lines: int
    files_compiled: int = field(metadata={"doc": "Labelled files the report lists as compiled"})
    files_error: int = field(metadata={"doc": "Labelled files the report lists with a compile error"})
    files_missing: int = field(metadata={"doc": "Labelled files the report does not list"})
    tools: dict[str, ToolScores] = field(metadata={"doc": "Tool -> scores; 'merged' last"})

    def to_dict(self) -> dict:
        return {"scope": self.scope, "files": self.files, "labels": self.labels, "lines": self.lines,
                "files_compiled": self.files_compiled, "files_error": self.files_error,
                "files_missing": self.files_missing, "tools": {k: v.to_dict() for k, v in self.tools.items()}}


@dataclass
class LabelResult:
    file: str
    category: str
    lines: tuple[int, ...]
    found_by: list[str] = field(metadata={"doc": "Tools (and 'merged') that found it"})
    scopes: list[str]

    def to_dict(self) -> dict:
        return {"file": self.file, "category": self.category, "lines": list(self.lines), "found_by": self.found_by,
                "scopes": self.scopes}


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
        }


# --------------------------------------------------------------------------------------------
# Scoring


def _reported_by(finding: Finding, tool: str) -> bool:
    return tool == MERGED or tool in finding.tools or any(r.tool == tool for r in finding.reporters)


def _tools_of(report: Report) -> list[str]:
    names = [t.name for t in report.tools]
    for f in report.findings:
        for t in [*f.tools, *(r.tool for r in f.reporters)]:
            if t not in names:
                names.append(t)
    return names


def score(report: Report, dataset: LabelledDataset, *, tools: Sequence[str] | None = None,
          scopes: Mapping[str, Iterable[str] | None] | None = None, include_suppressed: bool = True) -> EvalScores:
    """Score `report` (an audit of `dataset.audit_root`, or of its root) against the labels.

    tools: tools to score one by one (default: those in the report); "merged" is always added.
    scopes: name -> labelled paths, None meaning every file (default: "all" plus the dataset's subsets).
    """
    tool_names = [t for t in (tools if tools is not None else _tools_of(report)) if t != MERGED]
    if scopes is None:
        scopes = {ALL_SCOPE: None, **dataset.subsets}
    all_paths = [f.path for f in dataset.files]
    scope_sets = {name: set(all_paths) if paths is None else set(paths) for name, paths in scopes.items()}
    for name, paths in scope_sets.items():
        unknown = paths - set(all_paths)
        if unknown:
            raise ValueError(f"scope {name!r} names unlabelled files: {sorted(unknown)[:5]}")

    considered = [f for f in report.findings if include_suppressed or f.suppressed is None]
    # Each finding's locations in labelled files: path -> [Location].
    placed: list[tuple[Finding, dict[str, list[Location]]]] = []
    outside = 0
    for f in considered:
        where: dict[str, list[Location]] = {}
        for loc in f.locations:
            path = dataset.resolve(loc.file)
            if path is not None:
                where.setdefault(path, []).append(loc)
        if where:
            placed.append((f, where))
        else:
            outside += 1

    by_file = {f.path: f for f in dataset.files}
    columns = [*tool_names, MERGED]

    # label (file, index) -> tools that found it; finding (index, file) -> matches a label there.
    found: dict[tuple[str, int], list[str]] = {(f.path, i): [] for f in dataset.files for i in range(len(f.labels))}
    matches: dict[tuple[int, str], bool] = {}
    for i, (f, where) in enumerate(placed):
        for path, locs in where.items():
            hit = False
            for j, label in enumerate(by_file[path].labels):
                if label.category is f.category and any(location_hits(loc, n) for loc in locs for n in label.lines):
                    hit = True
                    for tool in columns:
                        if _reported_by(f, tool) and tool not in found[(path, j)]:
                            found[(path, j)].append(tool)
            matches[(i, path)] = hit

    statuses = _file_statuses(report, dataset)
    scope_results = []
    for name, paths in scope_sets.items():
        per_tool = {}
        for tool in columns:
            cats = {c.value: Counts() for c in SCORED_CATEGORIES}
            excluded = 0
            for path in paths:
                for j, label in enumerate(by_file[path].labels):
                    c = cats[label.category.value]
                    c.labels += 1
                    c.found += int(tool in found[(path, j)])
            for i, (f, where) in enumerate(placed):
                in_scope = [p for p in where if p in paths]
                if not in_scope or not _reported_by(f, tool):
                    continue
                if f.category is Category.CODE_QUALITY:
                    excluded += 1
                    continue
                c = cats[f.category.value]
                c.findings += 1
                c.matching += int(any(matches[(i, p)] for p in in_scope))
            per_tool[tool] = ToolScores(tool, cats, excluded)
        scope_results.append(ScopeScores(
            scope=name, files=len(paths), labels=sum(len(by_file[p].labels) for p in paths),
            lines=sum(len(lb.lines) for p in paths for lb in by_file[p].labels),
            files_compiled=sum(statuses.get(p) == "compiled" for p in paths),
            files_error=sum(statuses.get(p) == "error" for p in paths),
            files_missing=sum(p not in statuses for p in paths), tools=per_tool))

    label_results = [
        LabelResult(file=f.path, category=label.category.value, lines=label.lines,
                    found_by=sorted(found[(f.path, j)], key=columns.index),
                    scopes=[name for name, paths in scope_sets.items() if f.path in paths])
        for f in dataset.files for j, label in enumerate(f.labels)
    ]
    return EvalScores(dataset=dataset.name, tools=tool_names, scopes=scope_results, labels=label_results,
                      audit=_audit_stats(report, len(considered), outside), include_suppressed=include_suppressed)


def _file_statuses(report: Report, dataset: LabelledDataset) -> dict[str, str]:
    """Labelled path -> the report's status for it ("compiled" / "error")."""
    out: dict[str, str] = {}
    for sf in report.files:
        path = dataset.resolve(sf.path)
        if path is not None:
            # A file listed twice (should not happen) is an error if either entry is.
            out[path] = "error" if "error" in (out.get(path), sf.status) else sf.status
    return out


def _audit_stats(report: Report, findings: int, outside: int) -> AuditStats:
    sources = [sf for sf in report.files if not sf.dependency]
    errors = sorted(sf.path for sf in sources if sf.status == "error")
    runs = {t.name: ToolRunStats(t.runs, t.ok, t.failed, t.timeout, t.skipped) for t in report.tools}
    return AuditStats(target=report.target, files=len(sources), compiled=len(sources) - len(errors),
                      errors=len(errors), error_files=errors, findings=findings, findings_outside=outside,
                      tool_runs=runs)


# --------------------------------------------------------------------------------------------
# Rendering


def _pct(num: int, den: int) -> str:
    return "-" if not den else f"{num}/{den} ({100 * num / den:.1f}%)"


def _f1(c: Counts) -> str:
    return "-" if c.f1 is None else f"{c.f1:.2f}"


def scope_table(scope: ScopeScores) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one scope's table: a row per category (those with labels or findings) and a
    total row; per tool (then merged) its recall, precision and F1."""
    header = ["category", "labels"]
    for tool in scope.tools:
        header += [f"{tool} recall", f"{tool} precision", f"{tool} F1"]
    rows = []
    for cat in (c.value for c in SCORED_CATEGORIES):
        counts = [t.categories[cat] for t in scope.tools.values()]
        labels = counts[0].labels if counts else 0
        if not labels and not any(c.findings for c in counts):
            continue
        row = [cat, str(labels)]
        for c in counts:
            row += [_pct(c.found, c.labels), _pct(c.matching, c.findings), _f1(c)]
        rows.append(row)
    totals = [t.total for t in scope.tools.values()]
    row = ["total", str(scope.labels)]
    for c in totals:
        row += [_pct(c.found, c.labels), _pct(c.matching, c.findings), _f1(c)]
    rows.append(row)
    return header, rows


def scope_title(scope: ScopeScores) -> str:
    return (f"{scope.scope}: {scope.files} files, {scope.labels} labels ({scope.lines} lines); "
            f"{scope.files_error} with compile error, {scope.files_missing} not audited")


def audit_summary(scores: EvalScores) -> list[str]:
    a = scores.audit
    lines = [f"Audited {a.target}: {a.files} files, {a.compiled} compiled, {a.errors} with compile error."]
    for name, r in a.tool_runs.items():
        lines.append(f"{name}: {r.runs} runs, {r.ok} ok, {r.failed} failed, {r.timeout} timed out, "
                     f"{r.skipped} skipped.")
    lines.append(f"{a.findings} findings ({'suppressed included' if scores.include_suppressed else 'unsuppressed'}), "
                 f"{a.findings_outside} outside labelled files.")
    return lines


def to_markdown(scores: EvalScores) -> str:
    out = [f"# Evaluation on {scores.dataset}", ""]
    out += [f"- {line}" for line in audit_summary(scores)]
    out += ["", f"A label is found when a finding of its category in its file covers one of its lines or starts "
                f"within {scores.line_tolerance} lines of it (ICSE 2020 protocol). Precision = findings matching a "
                f"label / findings of that category; `code_quality` findings are not scored. Totals are "
                f"micro-averaged.", ""]
    for scope in scores.scopes:
        header, rows = scope_table(scope)
        out += [f"## {scope_title(scope)}", ""]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        out += ["| " + " | ".join(r) + " |" for r in rows]
        excluded = ", ".join(f"{t.tool} {t.excluded}" for t in scope.tools.values())
        out += ["", f"`code_quality` findings (not scored): {excluded}.", ""]
    return "\n".join(out)


def to_json(scores: EvalScores, indent: int | None = 2) -> str:
    return json.dumps(scores.to_dict(), indent=indent)
