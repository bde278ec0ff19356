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
  the 69 files of the study; the SWC registry: "vulnerable" and "fixed").
* Labels that carry an SWC id (the SWC registry's, or a labels file's) are also counted per id:
  labels and found per tool, matched as above (by class), so an id's recall splits its class's.

Precision is a lower bound: the curated labels are not exhaustive, so a finding of a real but
unlabelled weakness counts as a false positive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from auditor.evaluation.labelled import LabelledDataset, LabelledFile
from auditor.evaluation.results import (
    LINE_TOLERANCE,
    MERGED,
    SCORED_CATEGORIES,
    AuditStats,
    Counts,
    EvalScores,
    LabelResult,
    ScopeScores,
    SwcScores,
    ToolRunStats,
    ToolScores,
)
from auditor.findings import Category, Finding, Location
from auditor.report.model import Report

ALL_SCOPE = "all"


def location_hits(loc: Location, line: int, tolerance: int = LINE_TOLERANCE) -> bool:
    """Whether a location covers `line` or starts within `tolerance` lines of it."""
    return loc.start_line <= line <= loc.end_line or abs(loc.start_line - line) <= tolerance


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
                same = label.category.dasp is f.category.dasp
                if same and any(location_hits(loc, n) for loc in locs for n in label.lines):
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
                    c = cats[label.category.dasp.value]
                    c.labels += 1
                    c.found += int(tool in found[(path, j)])
            for i, (f, where) in enumerate(placed):
                in_scope = [p for p in where if p in paths]
                if not in_scope or not _reported_by(f, tool):
                    continue
                if f.category is Category.CODE_QUALITY:
                    excluded += 1
                    continue
                c = cats[f.category.dasp.value]
                c.findings += 1
                c.matching += int(any(matches[(i, p)] for p in in_scope))
            per_tool[tool] = ToolScores(tool, cats, excluded)
        scope_results.append(ScopeScores(
            scope=name, files=len(paths), labels=sum(len(by_file[p].labels) for p in paths),
            lines=sum(len(lb.lines) for p in paths for lb in by_file[p].labels),
            files_compiled=sum(statuses.get(p) == "compiled" for p in paths),
            files_error=sum(statuses.get(p) == "error" for p in paths),
            files_missing=sum(p not in statuses for p in paths), tools=per_tool,
            swc=_swc_scores([by_file[p] for p in paths], found, columns)))

    label_results = [
        LabelResult(file=f.path, category=label.category.value, lines=label.lines,
                    found_by=sorted(found[(f.path, j)], key=columns.index),
                    scopes=[name for name, paths in scope_sets.items() if f.path in paths], swc=label.swc)
        for f in dataset.files for j, label in enumerate(f.labels)
    ]
    return EvalScores(dataset=dataset.name, tools=tool_names, scopes=scope_results, labels=label_results,
                      audit=_audit_stats(report, len(considered), outside), include_suppressed=include_suppressed,
                      skipped=dict(dataset.skipped))


def _swc_scores(files: list[LabelledFile], found: Mapping[tuple[str, int], list[str]],
                columns: list[str]) -> dict[str, SwcScores]:
    """SWC id -> labels and found per tool column, over the labels of `files` that carry an id."""
    out: dict[str, SwcScores] = {}
    for lf in files:
        for j, label in enumerate(lf.labels):
            if label.swc is None:
                continue
            row = out.setdefault(label.swc, SwcScores(label.swc, [], 0, dict.fromkeys(columns, 0)))
            row.labels += 1
            if label.category.dasp.value not in row.categories:
                row.categories.append(label.category.dasp.value)
            for tool in found[(lf.path, j)]:
                row.found[tool] += 1
    for row in out.values():
        row.categories.sort()
    return dict(sorted(out.items()))


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
