"""The report as one self-contained HTML page: inline CSS, no external assets, no JavaScript.

Severity filters are checkboxes styled with CSS `:has()` (browsers without it show every row).
Everything that comes from sources or tools goes through `html.escape`, its control characters
(ESC, bidi overrides ...) written as visible escapes first. The output depends only on the report:
no clock, no random ids.
"""

from __future__ import annotations

from html import escape

from auditor.findings import Finding, Severity, sort_key
from auditor.report.base import ReportFormat
from auditor.report.controls import visible
from auditor.report.model import SCHEMA_ID, Report, ToolState
from auditor.report.text import (
    evidence_text,
    incomplete_text,
    knowledge_text,
    label_text,
    location_text,
    review_text,
    scope_text,
    swc_url,
    totals_text,
    verdict_text,
)

SEVERITIES = (Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFORMATIONAL)
LABELS = {Severity.HIGH: "High", Severity.MEDIUM: "Medium", Severity.LOW: "Low",
          Severity.INFORMATIONAL: "Informational"}

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --bg:#fff; --line:#d1d9e0; --soft:#f6f8fa;
  --high:#cf222e; --medium:#bc4c00; --low:#9a6700; --informational:#0969da; --ok:#1a7f37; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg);
  background: var(--bg); margin: 0 auto; max-width: 1200px; padding: 24px; }
h1 { margin: 0 0 4px; font-size: 26px; } h2 { margin-top: 32px; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--soft); padding: 12px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap;
  word-break: break-word; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { border: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: top; }
th { background: var(--soft); } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-top: 4px solid var(--muted); border-radius: 6px;
  padding: 10px 16px; min-width: 130px; }
.card .n { font-size: 28px; font-weight: 600; display: block; }
.card.sev-high { border-top-color: var(--high); } .card.sev-medium { border-top-color: var(--medium); }
.card.sev-low { border-top-color: var(--low); } .card.sev-informational { border-top-color: var(--informational); }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-size: 12px;
  font-weight: 600; text-transform: uppercase; background: var(--muted); }
.badge.sev-high { background: var(--high); } .badge.sev-medium { background: var(--medium); }
.badge.sev-low { background: var(--low); } .badge.sev-informational { background: var(--informational); }
.state-ok { color: var(--ok); } .state-failed, .state-timeout { color: var(--high); font-weight: 600; }
.alert { border: 1px solid var(--high); background: #ffebe9; border-radius: 6px; padding: 8px 12px; }
tr.suppressed td { color: var(--muted); } tr.suppressed td:first-child::after { content: " (suppressed)"; }
tr.model td { font-style: italic; } .badge.model { background: #6f42c1; }
.verdict.likely_false { color: var(--muted); text-decoration: line-through; } .verdict.likely_true { font-weight: 600; }
.verdict.unsure { font-style: italic; } ul.evidence { margin: 0; padding-left: 18px; } li.guard { color: var(--ok); }
.filters label { margin-right: 14px; white-space: nowrap; }
body:has(#show-high:not(:checked)) tr.finding.sev-high,
body:has(#show-medium:not(:checked)) tr.finding.sev-medium,
body:has(#show-low:not(:checked)) tr.finding.sev-low,
body:has(#show-informational:not(:checked)) tr.finding.sev-informational,
body:has(#show-suppressed:not(:checked)) tr.finding.suppressed { display: none; }
article.detail { border: 1px solid var(--line); border-radius: 6px; padding: 4px 16px 8px; margin: 12px 0; }
article.detail h3 { margin: 8px 0; font-size: 17px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dt { color: var(--muted); } dd { margin: 0; }
footer { color: var(--muted); margin-top: 32px; font-size: 13px; }
""".strip()


def e(value: object) -> str:
    """HTML-escaped text (quotes too, so it is safe in attribute values), control characters visible."""
    return escape(visible(value), quote=True)


class HtmlFormat(ReportFormat):
    NAME = "html"
    EXTENSION = ".html"
    MEDIA_TYPE = "text/html"
    DESCRIPTION = "One self-contained HTML page (no external assets), to open in a browser"

    def render(self, report: Report) -> str:
        findings = sorted(report.findings, key=lambda f: (f.suppressed is not None, *sort_key(f)))
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="SolSentry">',
            f"<title>SolSentry audit report: {e(report.target)}</title>",
            f"<style>\n{CSS}\n</style>",
            "</head>",
            "<body>",
            *_header(report),
            "<main>",
            *_summary(report),
            *_tools(report),
            *_not_compiled(report),
            *_findings_table(findings),
            *_details(findings),
            "</main>",
            f"<footer>SolSentry {e(report.solsentry_version)} &middot; report schema {e(SCHEMA_ID)}</footer>",
            "</body>",
            "</html>",
        ]
        return "\n".join(parts) + "\n"


def _header(report: Report) -> list[str]:
    return [
        "<header>",
        "<h1>SolSentry audit report</h1>",
        f'<p class="meta">Target <code>{e(report.target)}</code> ({e(report.target_kind)}) &middot; '
        f"{len(report.files)} file(s) &middot; {report.duration_s:.1f} s &middot; "
        f"SolSentry {e(report.solsentry_version)}</p>",
        *([f'<p class="meta review">{e(text)}</p>'] if (text := review_text(report)) else []),
        "</header>",
    ]


def _summary(report: Report) -> list[str]:
    s = report.summary
    cards = [(f"sev-{sev.value}", LABELS[sev], getattr(s, sev.value)) for sev in SEVERITIES]
    # Counted (what --fail-on sees) apart from what is not: suppressed and model-only findings.
    cards += [("counted", "Counted", s.high + s.medium + s.low + s.informational),
              ("suppressed", "Suppressed", s.suppressed), ("model", "Review model (advisory)", s.model)]
    out = ['<section id="summary">', "<h2>Summary</h2>", '<div class="cards">']
    out += [f'<div class="card {cls}"><span class="n">{n}</span>{label}</div>' for cls, label, n in cards]
    out += ["</div>", f'<p class="totals">{e(totals_text(report))}. --fail-on counts only the counted findings.</p>']
    if incomplete := incomplete_text(report):
        out.append(f'<p class="alert incomplete">{e(incomplete)}.</p>')
    out += ["</section>"]
    return out


def _tools(report: Report) -> list[str]:
    out = ['<section id="tools">', "<h2>Tools</h2>"]
    bad = [r for r in report.tool_runs if r.state in (ToolState.FAILED, ToolState.TIMEOUT)]
    if bad:
        out.append(f'<p class="alert">{len(bad)} tool run(s) failed or timed out: '
                   "their findings are missing from this report.</p>")
    out += ["<table>", "<thead><tr><th>Tool</th><th>Version</th><th>Runs</th><th>OK</th><th>Failed</th>"
            "<th>Timeout</th><th>Skipped</th></tr></thead>", "<tbody>"]
    for t in report.tools:
        out.append(
            f"<tr><td>{e(t.name)}</td><td>{e(t.version)}</td><td class=\"num\">{t.runs}</td>"
            f'<td class="num">{t.ok}</td><td class="num{" state-failed" if t.failed else ""}">{t.failed}</td>'
            f'<td class="num{" state-timeout" if t.timeout else ""}">{t.timeout}</td>'
            f'<td class="num">{t.skipped}</td></tr>'
        )
    out += ["</tbody>", "</table>"]
    runs = [r for r in report.tool_runs if r.state is not ToolState.OK]
    if runs:
        out += ['<table id="tool-problems">', "<thead><tr><th>Tool</th><th>Unit</th><th>State</th>"
                "<th>Message</th><th>Duration</th></tr></thead>", "<tbody>"]
        for r in runs:
            out.append(
                f'<tr class="run state-{e(r.state.value)}"><td>{e(r.tool)}</td><td><code>{e(r.unit)}</code></td>'
                f'<td class="state-{e(r.state.value)}">{e(r.state.value)}</td><td>{e(r.message or "")}</td>'
                f'<td class="num">{r.duration_s:.1f} s</td></tr>'
            )
        out += ["</tbody>", "</table>"]
    out.append("</section>")
    return out


def _not_compiled(report: Report) -> list[str]:
    broken = [f for f in report.files if f.status == "error"]
    if not broken:
        return []
    out = ['<section id="not-compiled">', f"<h2>Files not compiled ({len(broken)})</h2>",
           '<p class="alert">Not analyzed: their findings are missing from this report.</p>',
           "<table>", "<thead><tr><th>File</th><th>Dependency</th><th>Error</th></tr></thead>", "<tbody>"]
    out += [f"<tr><td><code>{e(f.path)}</code></td><td>{'yes' if f.dependency else 'no'}</td>"
            f"<td><pre>{e(f.error or '')}</pre></td></tr>" for f in broken]
    out += ["</tbody>", "</table>", "</section>"]
    return out


def _swc(swc: str | None) -> str:
    if not swc:
        return ""
    url = swc_url(swc)
    return f'<a href="{e(url)}">{e(swc)}</a>' if url else e(swc)


def _where(f: Finding) -> str:
    loc = f.primary
    scope = scope_text(loc)
    return f"<code>{e(location_text(loc))}</code>" + (f"<br><code>{e(scope)}</code>" if scope else "")


def _findings_table(findings: list[Finding]) -> list[str]:
    out = ['<section id="findings-section">', "<h2>Findings</h2>"]
    if not findings:
        return [*out, "<p>No findings.</p>", "</section>"]
    boxes = [(sev.value, LABELS[sev]) for sev in SEVERITIES] + [("suppressed", "Suppressed")]
    out.append('<p class="filters">Show: ' + "".join(
        f'<label><input type="checkbox" id="show-{v}" checked> {label}</label>' for v, label in boxes) + "</p>")
    out += ['<table id="findings">', "<thead><tr><th>Severity</th><th>Title</th><th>Location</th><th>SWC</th>"
            "<th>Category</th><th>Confidence</th><th>Tools</th><th>Review</th></tr></thead>", "<tbody>"]
    for f in findings:
        classes = f"finding sev-{f.severity.value}" + (" suppressed" if f.suppressed else "")
        classes += " model" if f.origin == "model" else ""
        out.append(
            f'<tr class="{classes}" id="row-{e(f.id)}" data-severity="{e(f.severity.value)}">'
            f'<td><span class="badge sev-{e(f.severity.value)}">{e(f.severity.value)}</span></td>'
            f'<td><a href="#finding-{e(f.id)}">{e(f.title)}</a></td>'
            f"<td>{_where(f)}</td><td>{_swc(f.swc)}</td><td>{e(f.category.value)}</td>"
            f"<td>{e(f.confidence.value)}</td><td>{e(', '.join(f.tools))}</td><td>{_review_cell(f)}</td></tr>"
        )
    out += ["</tbody>", "</table>", "</section>"]
    return out


def _review_cell(f: Finding) -> str:
    if f.origin == "model":
        return f'<span class="badge model">model only</span> {f.review.score:.2f}' if f.review else "model only"
    if f.review is None:
        return "&mdash;"
    return f'<span class="verdict {e(f.review.label)}">{e(label_text(f.review.label))}</span> {f.review.score:.2f}'


def _verdict_rows(f: Finding) -> list[tuple[str, str]]:
    """The details' rows for the review's verdict: label and score, reason, evidence, knowledge entry."""
    if (verdict := verdict_text(f)) is None or f.review is None:
        return []
    v = f.review
    alone = " &mdash; found by the model alone (advisory)" if f.origin == "model" else ""
    rows = [("Review model", e(verdict) + alone)]
    if v.reason:
        rows.append(("Reason", e(v.reason)))
    if v.evidence:
        # A guard is a protection the review saw: it speaks against the finding, so it is marked apart.
        items = "".join(f'<li class="{"guard" if ev.guard else "fact"}"><code>{e(ev.fact)}</code> '
                        f"{e(evidence_text(ev))}</li>" for ev in v.evidence)
        rows.append(("Evidence", f'<ul class="evidence">{items}</ul>'))
    if knowledge := knowledge_text(v.knowledge):
        url = swc_url(v.knowledge)
        rows.append(("Knowledge", f'<a href="{e(url)}">{e(knowledge)}</a>' if url else e(knowledge)))
    return rows


def _details(findings: list[Finding]) -> list[str]:
    if not findings:
        return []
    out = ['<section id="details">', "<h2>Details</h2>"]
    for f in findings:
        locations = "<br>".join(
            f"<code>{e(location_text(loc))}</code>" + (f" in <code>{e(scope_text(loc))}</code>" if scope_text(loc)
                                                       else "")
            for loc in f.locations
        )
        reporters = "<br>".join(
            f"{e(r.tool)}: <code>{e(r.detector)}</code> ({e(r.severity.value)}, {e(r.confidence.value)} confidence)"
            for r in f.reporters
        )
        rows = [
            ("Severity", f'<span class="badge sev-{e(f.severity.value)}">{e(f.severity.value)}</span>'),
            ("Confidence", e(f.confidence.value)),
            ("Location", locations),
            ("SWC", _swc(f.swc) or "&mdash;"),
            ("Category", e(f.category.value)),
            ("Tools", e(", ".join(f.tools)) or "&mdash;"),
            ("Detectors", reporters or "&mdash;"),
            ("ID", f"<code>{e(f.id)}</code>"),
            ("Fingerprint", f"<code>{e(f.fingerprint)}</code>"),
        ]
        if f.suppressed:
            rows.append(("Suppressed", e(f.suppressed)))
        rows += _verdict_rows(f)
        classes = f"detail sev-{f.severity.value}" + (" suppressed" if f.suppressed else "")
        out += [
            f'<article class="{classes}" id="finding-{e(f.id)}">',
            f"<h3>{e(f.title)}</h3>",
            "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>",
        ]
        if f.description.strip():
            out.append(f"<pre>{e(f.description.rstrip())}</pre>")
        out.append("</article>")
    out.append("</section>")
    return out
