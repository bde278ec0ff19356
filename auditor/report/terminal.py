"""The report on a terminal, with rich: findings table, tool failures, one-line summary.

Text from sources and tools is passed as `rich.text.Text`, never as markup, so a title such as
`[bold]x[/]` prints as written, and its control characters as visible escapes (`\x1b`, not an
escape sequence the terminal would obey).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.findings import Finding, Severity, sort_key
from auditor.report.controls import visible
from auditor.report.model import Report, ToolState
from auditor.report.text import (
    diff_counts,
    evidence_text,
    knowledge_text,
    label_text,
    location_text,
    scope_text,
    unsure_counted,
)

EVIDENCE_SHOWN = 3          # evidence lines per finding: the terminal is for a glance, the files list all
VERDICT_STYLES = {"likely_true": "", "likely_false": "dim", "unsure": "yellow"}
SEVERITY_STYLES = {
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "bold yellow",
    Severity.LOW: "cyan",
    Severity.INFORMATIONAL: "dim",
}


def text(value: object, style: str = "") -> Text:
    """Text from a source or tool, printed as written."""
    return Text(visible(value), style=style)


def summary_line(report: Report) -> Text:
    """What --fail-on counts first, then what it does not, e.g. `3 counted findings: 1 high, 1 medium,
    1 low, 0 informational; 1 suppressed (not counted); review: 1 likely false (still counted), 1 unsure
    (left as reported), 2 model-only (advisory, not counted); 1 tool run failed or timed out`; "unsure" is
    named only when some counted finding is."""
    s = report.summary
    counted = s.high + s.medium + s.low + s.informational
    line = Text(f"{counted} counted finding{'' if counted == 1 else 's'}: ", style="bold")
    for i, sev in enumerate(SEVERITY_STYLES):
        n = getattr(s, sev.value)
        if i:
            line.append(", ")
        line.append(f"{n} {sev.value}", style=SEVERITY_STYLES[sev] if n else "dim")
    if s.suppressed:
        line.append(f"; {s.suppressed} suppressed (not counted)", style="dim")
    if report.review is not None and report.review.state != "failed":
        unsure = f", {n} unsure (left as reported)" if (n := unsure_counted(report)) else ""
        line.append(f"; review: {s.likely_false} likely false (still counted){unsure}, {s.model} model-only "
                    "(advisory, not counted)", style="dim")
    if report.review is not None and report.review.state == "failed":
        line.append("; review failed (findings unreviewed)", style="bold yellow")
    elif report.review is not None and report.review.state == "partial":
        line.append(" (review partial: some files unreviewed)", style="bold yellow")
    if files := len(report.unanalyzed_files()):
        line.append(f"; {files} file{'' if files == 1 else 's'} not analyzed", style="bold red")
    bad = sum(r.state in (ToolState.FAILED, ToolState.TIMEOUT) for r in report.tool_runs)
    if bad:
        line.append(f"; {bad} tool run{'' if bad == 1 else 's'} failed or timed out", style="bold red")
    if (counts := diff_counts(report)) is not None and report.diff is not None:
        # PR mode: the counts above are of the new findings only.
        line = Text(f"PR mode: {counts} since {visible(report.diff.base)} "
                    f"({report.diff.unchanged} unchanged, not shown). ", style="bold").append_text(line)
    return line


def findings_table(findings: list[Finding]) -> Table:
    table = Table(title="Findings", title_justify="left", show_lines=False, expand=False)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Title", overflow="fold")
    table.add_column("Location", overflow="fold")
    table.add_column("Tools", no_wrap=True)
    reviewed = any(f.review is not None for f in findings)
    if reviewed:
        table.add_column("Review", no_wrap=True)
    for f in sorted(findings, key=sort_key):
        where = text(location_text(f.primary))
        if scope := scope_text(f.primary):
            where.append(f"\n{visible(scope)}", style="dim")
        title = text(f.title)
        if f.swc:
            title.append(f" ({visible(f.swc)})", style="dim")
        severity = Text(f.severity.value, style=SEVERITY_STYLES[f.severity])
        if f.suppressed:
            severity.append(f"\nsuppressed: {visible(f.suppressed)}", style="dim")
        cells = [severity, title, where, text(", ".join(f.tools))]
        if reviewed:
            cells.append(_verdict(f))
        table.add_row(*cells)
    return table


def _verdict(f: Finding) -> Text:
    if f.review is None:
        return Text("-", style="dim")
    if f.origin == "model":
        return Text(f"model only {f.review.score:.2f}", style="magenta")
    return Text(f"{label_text(f.review.label)} {f.review.score:.2f}", style=VERDICT_STYLES.get(f.review.label, ""))


def review_details(findings: list[Finding]) -> Text | None:
    """Below a findings table, per reviewed finding: one line for the verdict (label, score, title and
    place, knowledge entry, reason), then one per evidence item, at most EVIDENCE_SHOWN. Not in the
    table: a reason in a table cell wraps into a column a few words wide."""
    out = Text()
    for f in sorted(findings, key=sort_key):
        if (v := f.review) is None:
            continue
        out.append("\n" if out else "").append_text(_verdict(f)).append("  ").append_text(text(f.title))
        out.append(f" ({visible(location_text(f.primary))})", style="dim")
        if knowledge := knowledge_text(v.knowledge):
            out.append(f" [{visible(knowledge)}]", style="dim")
        if v.reason:
            out.append(": ").append_text(text(v.reason))
        for ev in v.evidence[:EVIDENCE_SHOWN]:
            # A protection (guard) gets its own mark, so it is not read as one more sign of the weakness.
            out.append(f"\n  {'+' if ev.guard else '-'} ").append_text(
                text(evidence_text(ev), style="green" if ev.guard else ""))
        if (more := len(v.evidence) - EVIDENCE_SHOWN) > 0:
            out.append(f"\n  ({more} more in the JSON, SARIF, Markdown and HTML reports)", style="dim")
    return out or None


def tool_failures_table(report: Report) -> Table | None:
    """Failed and timed-out tool runs, or None when every run finished."""
    bad = [r for r in report.tool_runs if r.state in (ToolState.FAILED, ToolState.TIMEOUT)]
    if not bad:
        return None
    table = Table(title="Tool failures (their findings are missing)", title_justify="left",
                  title_style="bold red")
    table.add_column("Tool", no_wrap=True)
    table.add_column("Unit", overflow="fold")
    table.add_column("State", no_wrap=True)
    table.add_column("Message", overflow="fold")
    for r in bad:
        table.add_row(text(r.tool), text(r.unit), Text(r.state.value, style="bold red"), text(r.message or ""))
    return table


def render_summary(report: Report, console: Console | None = None, *, show_suppressed: bool = False) -> None:
    """Print the findings table, the tool failures and a one-line summary to `console` (stdout by default)."""
    console = console or Console()
    findings = report.findings if show_suppressed else report.counted()
    model = [f for f in report.findings if f.origin == "model"]
    if model and not show_suppressed:
        table = findings_table(model)
        table.title = "Review model only (advisory, not counted)"
        console.print(table)
        _print_review(console, model)
    if findings:
        console.print(findings_table(findings))
        _print_review(console, findings)
    if (failures := tool_failures_table(report)) is not None:
        console.print(failures)
    console.print(summary_line(report))


def _print_review(console: Console, findings: list[Finding]) -> None:
    if (details := review_details(findings)) is not None:
        console.print(details)
