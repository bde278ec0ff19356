"""The exact texts the encoder reads, shared by training and inference (one definition, so the
two can never drift apart)."""

from __future__ import annotations

from auditor.findings import Category, Finding
from auditor.review.source import Function, function_at, normalize

# The categories the detection head scores, in head order (code quality is not a weakness class).
CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category if c.is_dasp)
FLAG = "__flag__"          # marks the flagged lines inside a finding's context (kept by normalize)
CONTEXT_LINES = 6          # lines around a finding outside any function


def function_text(func: Function) -> str:
    return normalize(func.code)


def finding_meta(finding: Finding, facts: str = "") -> str:
    """What the tools said, without the tool's prose (class, SWC, detectors, severity), and the code
    facts bearing on it (`evidence.words`: guards and weaknesses by kind)."""
    detectors = " ".join(sorted({r.detector for r in finding.reporters}))
    meta = f"{finding.category.dasp.value} {finding.swc or ''} {detectors} {finding.severity.value}".replace("-", " ")
    return f"{meta} | {facts}" if facts else meta


def finding_context(finding: Finding, lines: list[str], funcs: list[Function]) -> str:
    """The enclosing function (or a few lines around the finding), with the flagged lines marked."""
    loc = finding.primary
    start, end = max(1, loc.start_line), min(len(lines), max(loc.start_line, loc.end_line))
    func = function_at(funcs, start)
    if func is not None and end <= func.end_line and (end - start) < (func.end_line - func.start_line):
        lo, hi = func.start_line, func.end_line
    else:
        lo, hi = max(1, start - CONTEXT_LINES), min(len(lines), end + CONTEXT_LINES)
    if end - start > 40:                    # a whole contract flagged: its head is enough
        end = start + 1
    text = [*lines[lo - 1:start - 1], f"\n{FLAG}\n", *lines[start - 1:end], f"\n{FLAG}\n", *lines[end:hi]]
    return normalize("\n".join(text))
