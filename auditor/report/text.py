"""Text helpers shared by the human-readable formats (Markdown, HTML, terminal) and SARIF.

One-line summaries of the review, the totals and what is incomplete, SWC links, and how a location
is written. Control characters are made visible by `auditor.report.controls.visible`.
"""

from __future__ import annotations

import re

from auditor.findings import Finding, Location
from auditor.report.model import Report

SWC_REGISTRY = "https://swcregistry.io/docs/"
_SWC_ID = re.compile(r"^SWC-\d+$")


def verdict_text(f: Finding) -> str | None:
    """e.g. "likely false (score 0.12, solsentry-review-minilm@ab12...)"; None when unreviewed."""
    if f.review is None:
        return None
    return f"{f.review.label.replace('_', ' ')} (score {f.review.score:.3f}, {f.review.model})"


def review_text(report: Report) -> str | None:
    """One line on what the review step did; None when the audit ran with --review none."""
    r = report.review
    if r is None:
        return None
    if r.state == "failed":
        return f"review failed ({r.reviewer}): {r.message}. Tool findings are unreviewed."
    if r.state == "partial":
        return (f"reviewed by {r.model} except where it failed ({r.message}); {r.reviewed} finding(s) judged, "
                f"{r.likely_false} likely false; {r.model_findings} finding(s) of the model alone (advisory)")
    return (f"reviewed by {r.model}: {r.reviewed} finding(s) judged, {r.likely_false} likely false; "
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
