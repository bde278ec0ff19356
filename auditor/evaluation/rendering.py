"""Rendering evaluation scores (auditor/evaluation/results.py): per-scope tables (and, for a dataset
labelled by SWC id, per-SWC tables), the audit summary, the Markdown report and the JSON document.
"""

from __future__ import annotations

import json

from auditor.evaluation.results import SCORED_CATEGORIES, Counts, EvalScores, ScopeScores
from auditor.swc import swc_title


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


def swc_table(scope: ScopeScores) -> tuple[list[str], list[list[str]]] | None:
    """Header and rows of a scope's per-SWC table (labels, then found per tool and merged); None when
    no label in the scope carries an SWC id (SmartBugs)."""
    if not scope.swc:
        return None
    header = ["SWC", "title", "scored as", "labels", *(f"{tool} found" for tool in scope.tools)]
    rows = [[s.swc, swc_title(s.swc) or "", ", ".join(s.categories), str(s.labels),
             *(_pct(s.found.get(tool, 0), s.labels) for tool in scope.tools)] for s in scope.swc.values()]
    return header, rows


def skipped_note(scores: EvalScores) -> str | None:
    """The dataset's labels that nothing scores (code quality), so totals compared with the source's add up."""
    if not scores.skipped:
        return None
    return (f"{sum(scores.skipped.values())} code-quality labels of the dataset are not scored: "
            + ", ".join(f"{k} {n}" for k, n in scores.skipped.items()) + ".")


def _markdown_table(header: list[str], rows: list[list[str]], text_columns: int = 1) -> list[str]:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] * text_columns + ["---:"] * (len(header) - text_columns)) + "|"]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


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
    if (note := skipped_note(scores)) is not None:
        out += [note, ""]
    for scope in scores.scopes:
        header, rows = scope_table(scope)
        out += [f"## {scope_title(scope)}", ""]
        out += _markdown_table(header, rows)
        excluded = ", ".join(f"{t.tool} {t.excluded}" for t in scope.tools.values())
        out += ["", f"`code_quality` findings (not scored): {excluded}.", ""]
        if (table := swc_table(scope)) is not None:
            out += [f"### {scope.scope}: recall by SWC id", "",
                    "Labels of each SWC id found (matched by the class it is scored as, like every label).", ""]
            out += [*_markdown_table(*table, text_columns=3), ""]
    return "\n".join(out)


def to_json(scores: EvalScores, indent: int | None = 2) -> str:
    return json.dumps(scores.to_dict(), indent=indent)
