"""Text helpers shared by the human-readable formats (Markdown, HTML, terminal) and SARIF.

One-line summaries of the review, the totals and what is incomplete, SWC links, how a location is
written, and how a verdict reads (label, score, reason, evidence, knowledge entry). The text is plain:
each format escapes it its own way; control characters are made visible by
`auditor.report.controls.visible`.
"""

from __future__ import annotations

import re

from auditor.findings import Evidence, Finding, Location, Verdict
from auditor.report.knowledge import knowledge_title
from auditor.report.model import Report

SWC_REGISTRY = "https://swcregistry.io/docs/"
_SWC_ID = re.compile(r"^SWC-\d+$")


# Every label a verdict can carry, as a reader says it; "unsure" is the review abstaining.
LABELS = {"likely_true": "likely true", "likely_false": "likely false", "unsure": "unsure"}


def label_text(label: str) -> str:
    """'likely false' for 'likely_false'; a label this version does not know, with spaces."""
    return LABELS.get(label, label.replace("_", " "))


def verdict_text(f: Finding) -> str | None:
    """e.g. "likely false (score 0.120, solsentry-review-minilm@ab12...)"; None when unreviewed."""
    if f.review is None:
        return None
    return f"{label_text(f.review.label)} (score {f.review.score:.3f}, {f.review.model})"


def evidence_text(ev: Evidence, *, mark_guard: bool = True) -> str:
    """e.g. "modifier nonReentrant on withdraw (line 12, protection)": a guard speaks against the finding.
    `mark_guard=False` where the caller already says so ("Protection: ...")."""
    notes = [*([f"line {ev.line}"] if ev.line else []), *(["protection"] if ev.guard and mark_guard else [])]
    return f"{ev.detail} ({', '.join(notes)})" if notes else ev.detail


def knowledge_text(entry: str | None) -> str | None:
    """e.g. "SWC-107: Reentrancy" (the id alone when the knowledge base has no such entry); None for none."""
    if not entry:
        return None
    title = knowledge_title(entry)
    return f"{entry}: {title}" if title else entry


def verdict_lines(v: Verdict) -> list[str]:
    """The whole verdict as plain lines: label and score, reason, each evidence item, knowledge entry."""
    lines = [f"Review: {label_text(v.label)} (score {v.score:.3f}, {v.model})"]
    if v.reason:
        lines.append(f"Reason: {v.reason}")
    lines += [f"{'Protection' if ev.guard else 'Evidence'}: {evidence_text(ev, mark_guard=False)}"
              for ev in v.evidence]
    if knowledge := knowledge_text(v.knowledge):
        lines.append(f"Knowledge: {knowledge}")
    return lines


def unsure_counted(report: Report) -> int:
    """Counted findings the review left undecided ("unsure"): still counted, as the tools reported them.
    Derived here because `Summary` has no such counter (`review.unsure` counts suppressed ones too)."""
    return sum(f.review is not None and f.review.label == "unsure" for f in report.counted())


def review_text(report: Report) -> str | None:
    """One line on what the review step did; None when the audit ran with --review none."""
    r = report.review
    if r is None:
        return None
    # Abstentions are named only when there are some: a reviewer that never abstains says what it said before.
    unsure = f", {r.unsure} unsure (left as reported)" if r.unsure else ""
    if r.state == "failed":
        return f"review failed ({r.reviewer}): {r.message}. Tool findings are unreviewed."
    if r.state == "partial":
        return (f"reviewed by {r.model} except where it failed ({r.message}); {r.reviewed} finding(s) judged, "
                f"{r.likely_false} likely false{unsure}; {r.model_findings} finding(s) of the model alone (advisory)")
    return (f"reviewed by {r.model}: {r.reviewed} finding(s) judged, {r.likely_false} likely false{unsure}; "
            f"{r.model_findings} finding(s) of the model alone (advisory, not counted by --fail-on)")


def totals_text(report: Report) -> str:
    """What the totals count, e.g. `12 tool findings (11 counted, 1 suppressed) + 2 review-model
    findings (advisory, not counted)`: --fail-on sees only the counted ones."""
    s = report.summary
    counted = s.high + s.medium + s.low + s.informational
    tool = s.total - s.model
    text = f"{tool} tool finding{'' if tool == 1 else 's'} ({counted} counted, {s.suppressed} suppressed)"
    if report.review is not None:
        text += f" + {s.model} review-model finding{'' if s.model == 1 else 's'} (advisory, not counted)"
    return text


def incomplete_text(report: Report) -> str | None:
    """None for a complete audit; else what is missing, e.g. `incomplete: 1 file not analyzed, 2 tool
    runs did not finish; findings may be missing`."""
    if report.complete:
        return None
    files, runs = len(report.unanalyzed_files()), len(report.unfinished_runs())
    parts = [*([f"{files} file{'' if files == 1 else 's'} not analyzed"] if files else []),
             *([f"{runs} tool run{'' if runs == 1 else 's'} did not finish"] if runs else [])]
    return f"incomplete: {', '.join(parts) or 'some analysis did not run'}; findings may be missing"


def diff_counts(report: Report) -> str | None:
    """PR mode: `1 new finding, 2 fixed` (the caller adds `since <base>` its own way); None otherwise."""
    d = report.diff
    if d is None:
        return None
    return f"{d.new} new finding{'' if d.new == 1 else 's'}, {d.fixed} fixed"


def swc_url(swc: str | None) -> str | None:
    """The SWC registry page of an id such as 'SWC-107'; None for anything else."""
    return f"{SWC_REGISTRY}{swc}" if swc and _SWC_ID.match(swc) else None


def location_text(loc: Location) -> str:
    """`file:start-end` (or `file:line` for one line)."""
    lines = str(loc.start_line) if loc.end_line <= loc.start_line else f"{loc.start_line}-{loc.end_line}"
    return f"{loc.file}:{lines}"


def scope_text(loc: Location) -> str:
    """`Contract.function`, `Contract` or `function`; '' when the tool named neither."""
    return ".".join(p for p in (loc.contract, loc.function) if p)
