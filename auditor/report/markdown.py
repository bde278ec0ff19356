"""The report as GitHub-flavoured Markdown: for a pull-request comment, a wiki page or a file next to the code.

Everything that comes from sources or tools is escaped: inline text with backslashes (so `<script>`,
`*`, `[`, `|` ... print as themselves), descriptions inside a code fence longer than any backtick run
they contain, and control characters (ESC, bidi overrides ...) everywhere as visible escapes
(`auditor.report.controls`).
"""

from __future__ import annotations

import re

from auditor.findings import Finding, Severity, sort_key
from auditor.report.base import ReportFormat
from auditor.report.controls import visible
from auditor.report.model import SCHEMA_ID, Report, ToolState
from auditor.report.text import (
    diff_counts,
    evidence_text,
    incomplete_text,
    knowledge_text,
    location_text,
    review_text,
    scope_text,
    swc_url,
    totals_text,
    verdict_text,
)

SEVERITY_HEADINGS = {
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
    Severity.INFORMATIONAL: "Informational",
}

# ASCII punctuation that can start Markdown or HTML syntax inline; CommonMark lets any of it be
# backslash-escaped.
_INLINE_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def escape(text: object) -> str:
    """Inline Markdown text that renders as `text`: one line, special characters backslash-escaped."""
    one_line = " ".join(visible(text).split())
    return _INLINE_SPECIAL.sub(r"\\\1", one_line)


def cell(text: object) -> str:
    """A table cell: escaped inline text (pipes included), '—' when empty."""
    escaped = escape(text)
    return escaped if escaped else "—"


def code_span(text: object, *, table: bool = False) -> str:
    """`text` as inline code, whatever backticks it contains; `table`: pipes escaped for a table cell."""
    one_line = " ".join(visible(text).split())
    if not one_line:
        return ""
    longest = max((len(m) for m in re.findall(r"`+", one_line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    span = f"{fence}{pad}{one_line}{pad}{fence}"
    return span.replace("|", "\\|") if table else span


def code_block(text: str) -> str:
    """`text` verbatim in a fenced block (longer fence than any backtick run inside), control
    characters but newlines and tabs escaped."""
    text = visible(text)
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


class MarkdownFormat(ReportFormat):
    NAME = "md"
    EXTENSION = ".md"
    MEDIA_TYPE = "text/markdown"
    DESCRIPTION = "Markdown (GitHub-flavoured), for pull-request comments and wikis"

    def render(self, report: Report) -> str:
        out: list[str] = []
        out += _pr_header(report)
        out += _header(report)
        out += _summary(report)
        out += _tools(report)
        out += _not_compiled(report)
        out += _findings(report)
        out += _model_findings(report)
        out += _suppressed(report)
        return "\n".join(out).rstrip() + "\n"


def _table(head: list[str], rows: list[list[str]], align: list[str] | None = None) -> list[str]:
    align = align or ["---"] * len(head)
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _pr_header(report: Report) -> list[str]:
    """PR mode: the comment's first line says what the change did; the rest lists only new findings."""
    if (counts := diff_counts(report)) is None or report.diff is None:
        return []
    d = report.diff
    since = code_span(d.base) + (f" ({code_span(d.base_commit[:12])})" if d.base_commit else "")
    lines = [f"**SolSentry: {counts} since {since}**", "",
             f"Only findings that are not at the base are listed; {d.unchanged} unchanged "
             f"finding{'' if d.unchanged == 1 else 's'} left out.", ""]
    if not d.base_complete:
        lines += ["> **Note:** the base audit was incomplete, so some findings listed as new may be old.", ""]
    return lines


def _header(report: Report) -> list[str]:
    deps = sum(f.dependency for f in report.files)
    errors = sum(f.status == "error" for f in report.files)
    files = f"{len(report.files)} ({deps} {'dependency' if deps == 1 else 'dependencies'}, {errors} not compiled)"
    return [
        "# SolSentry audit report",
        "",
        f"- **Target:** {code_span(report.target)} ({escape(report.target_kind)})",
        f"- **SolSentry:** {escape(report.solsentry_version)}, report schema `{SCHEMA_ID}`",
        f"- **Files:** {files}",
        f"- **Duration:** {report.duration_s:.1f} s",
        *([f"- **Review:** {escape(text)}"] if (text := review_text(report)) else []),
        "",
    ]


def _summary(report: Report) -> list[str]:
    s = report.summary
    counted = s.high + s.medium + s.low + s.informational
    incomplete = incomplete_text(report)
    return [
        "## Summary",
        "",
        # Counted (what --fail-on sees) apart from what is not: suppressed and model-only findings.
        *_table(
            ["High", "Medium", "Low", "Informational", "Counted", "Suppressed", "Review model (advisory)"],
            [[str(s.high), str(s.medium), str(s.low), str(s.informational), f"**{counted}**", str(s.suppressed),
              str(s.model)]],
            ["---:"] * 7,
        ),
        # Numbers and fixed words only: nothing from a tool or a source to escape.
        f"{totals_text(report)}. `--fail-on` counts only the counted findings.",
        "",
        *([f"> **Warning:** {incomplete}.", ""] if incomplete else []),
    ]


def _tools(report: Report) -> list[str]:
    out = ["## Tools", ""]
    if report.tools:
        rows = [
            [cell(t.name), cell(t.version), str(t.runs), str(t.ok), _count(t.failed), _count(t.timeout),
             str(t.skipped)]
            for t in report.tools
        ]
        out += _table(["Tool", "Version", "Runs", "OK", "Failed", "Timeout", "Skipped"], rows,
                      ["---", "---", "---:", "---:", "---:", "---:", "---:"])
    else:
        out += ["No analysis tool ran.", ""]
    problems = [r for r in report.tool_runs if r.state is not ToolState.OK]
    failed = sum(r.state in (ToolState.FAILED, ToolState.TIMEOUT) for r in problems)
    if failed:
        out += [f"**{failed} tool run(s) failed or timed out: their findings are missing from this report.**", ""]
    if problems:
        rows = [
            [cell(r.tool), code_span(r.unit, table=True), _state(r.state), cell(r.message or ""),
             f"{r.duration_s:.1f} s"]
            for r in problems
        ]
        out += _table(["Tool", "Unit", "State", "Message", "Duration"], rows,
                      ["---", "---", "---", "---", "---:"])
    return out


def _not_compiled(report: Report) -> list[str]:
    broken = [f for f in report.files if f.status == "error"]
    if not broken:
        return []
    rows = [[code_span(f.path, table=True), "yes" if f.dependency else "no", cell(f.error or "")] for f in broken]
    return [f"## Files not compiled ({len(broken)})", "",
            "Not analyzed: their findings are missing from this report.", "",
            *_table(["File", "Dependency", "Error"], rows)]


def _count(n: int) -> str:
    return f"**{n}**" if n else "0"


def _state(state: ToolState) -> str:
    return f"**{state.value.upper()}**" if state in (ToolState.FAILED, ToolState.TIMEOUT) else state.value


def _findings(report: Report) -> list[str]:
    counted = sorted(report.counted(), key=sort_key)
    out = ["## Findings", ""]
    if not counted:
        return [*out, "No findings.", ""]
    number = 0
    for severity, heading in SEVERITY_HEADINGS.items():
        group = [f for f in counted if f.severity is severity]
        if not group:
            continue
        out += [f"### {heading} ({len(group)})", ""]
        for f in group:
            number += 1
            out += _finding(number, f)
    return out


def _swc(swc: str | None) -> str:
    if not swc:
        return "—"
    url = swc_url(swc)
    return f"[{swc}]({url})" if url else escape(swc)


def _finding(number: int | str, f: Finding) -> list[str]:
    loc = f.primary
    where = code_span(location_text(loc))
    if scope := scope_text(loc):
        where += f" in {code_span(scope)}"
    out = [
        f"#### {number}. {escape(f.title)}",
        "",
        f"- **Location:** {where}",
    ]
    for other in f.locations[1:]:
        extra = code_span(location_text(other))
        if scope := scope_text(other):
            extra += f" in {code_span(scope)}"
        out.append(f"- **Also at:** {extra}")
    detectors = ", ".join(f"{escape(r.tool)} {code_span(r.detector)}" for r in f.reporters)
    out += [
        f"- **SWC:** {_swc(f.swc)}",
        f"- **Category:** {code_span(f.category.value)}",
        f"- **Severity / confidence:** {f.severity.value} / {f.confidence.value}",
        f"- **Tools:** {escape(', '.join(f.tools)) or '—'}",
        f"- **Detectors:** {detectors or '—'}",
        f"- **ID:** {code_span(f.id)}",
    ]
    out[-1:-1] = _verdict(f)
    out.append("")
    if f.description.strip():
        out += [code_block(f.description), ""]
    return out


def _verdict(f: Finding) -> list[str]:
    """The review's verdict as a list item, with its reason, evidence and knowledge entry nested under it."""
    if (verdict := verdict_text(f)) is None or f.review is None:
        return []
    v = f.review
    out = [f"- **Review model:** {escape(verdict)}"]
    if v.reason:
        out.append(f"  - **Reason:** {escape(v.reason)}")
    for ev in v.evidence:
        words = " ".join(p for p in (code_span(ev.fact), escape(evidence_text(ev, mark_guard=False))) if p)
        out.append(f"  - **{'Protection' if ev.guard else 'Evidence'}:** {words}")
    if knowledge := knowledge_text(v.knowledge):
        out.append(f"  - **Knowledge:** {escape(knowledge)}")
    return out


def _model_findings(report: Report) -> list[str]:
    found = sorted((f for f in report.findings if f.origin == "model"), key=sort_key)
    if not found:
        return []
    out = [f"## Findings of the review model alone ({len(found)})", "",
           "Statements of the review model, not of any tool: advisory, not counted in the summary nor by "
           "`--fail-on`. Check each by hand against the evidence listed.", ""]
    # Listed like tool findings (numbered M1, M2 ...): a table has no room for the evidence to check.
    for number, f in enumerate(found, 1):
        out += _finding(f"M{number}", f)
    return out


def _suppressed(report: Report) -> list[str]:
    suppressed = sorted((f for f in report.findings if f.suppressed), key=sort_key)
    if not suppressed:
        return []
    rows = [
        [f.severity.value, cell(f.title), code_span(location_text(f.primary), table=True), _swc(f.swc),
         cell(", ".join(f.tools)), cell(f.suppressed)]
        for f in suppressed
    ]
    return [
        f"## Suppressed findings ({len(suppressed)})",
        "",
        "Not counted in the summary nor by `--fail-on`.",
        "",
        *_table(["Severity", "Title", "Location", "SWC", "Tools", "Suppressed by"], rows),
    ]
