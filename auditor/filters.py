"""What the project config leaves out of an audit: own sources matched by `exclude_paths` (never
analyzed), and findings outside `detectors_include`, inside `detectors_exclude` or below
`min_severity` (never reported). See docs/configuration.md.

Path patterns are globs over '/'-separated paths: `*` and `?` stay within one path segment,
`**` spans any number of segments (none included), `[abc]` / `[!abc]` are character classes,
and a pattern that matches a directory matches everything under it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from auditor.errors import TargetError
from auditor.findings import Finding, Severity
from auditor.options import AuditOptions
from auditor.targets import Target


def _segment(seg: str) -> str:
    out, i = [], 0
    while i < len(seg):
        c = seg[i]
        end = seg.find("]", i + 2) if c == "[" else -1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif end != -1:
            body = seg[i + 1:end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    segments = pattern.rstrip("/").split("/")
    rx = ""
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            rx += ".*" if last else "(?:[^/]*/)*"
        else:
            rx += _segment(seg) + ("" if last else "/")
    return re.compile(rx + r"(?:/.*)?\Z")      # the tail: a matched directory covers its contents


def path_matcher(patterns: tuple[str, ...], root: Path):
    """A predicate on absolute paths: true for those some pattern (a relative one from `root`) matches."""
    base = root.resolve()
    globs = [compile_glob(p if p.startswith("/") else (base / p).as_posix()) for p in patterns]
    return lambda path: any(g.match(Path(path).as_posix()) for g in globs)


def drop_excluded(target: Target, patterns: tuple[str, ...]) -> Target:
    """`target` without the own sources `patterns` exclude (they are neither compiled nor analyzed)."""
    if not patterns:
        return target
    excluded = path_matcher(patterns, target.root)
    kept = [s for s in target.sources if not excluded(s)]
    if target.sources and not kept:
        # An audit of nothing would pass every --fail-on: say so instead.
        raise TargetError(f"every Solidity file of {target.path} is excluded by exclude-paths")
    return replace(target, sources=kept)


def _names(finding: Finding) -> set[str]:
    """What a rule may name: the category, the SWC id, each detector bare and as tool:detector
    (the same names inline suppressions take, auditor/suppress.py)."""
    names = {finding.category.value, *(r.detector.lower() for r in finding.reporters),
             *(f"{r.tool}:{r.detector}".lower() for r in finding.reporters)}
    if finding.swc:
        names.add(finding.swc.lower())
    return names


def filter_findings(findings: list[Finding], options: AuditOptions, root: Path) -> list[Finding]:
    """The findings the options report: in no excluded file, allowed by the detector rules, at or
    above the minimum severity."""
    include = {r.strip().lower() for r in options.detectors_include}
    exclude = {r.strip().lower() for r in options.detectors_exclude}
    floor = Severity(options.min_severity).rank if options.min_severity else None
    in_excluded = path_matcher(options.exclude_paths, root) if options.exclude_paths else None

    def keep(f: Finding) -> bool:
        names = _names(f)
        return ((not include or bool(names & include)) and not names & exclude
                and (floor is None or f.severity.rank >= floor)
                and not (in_excluded and in_excluded((root / f.primary.file).resolve())))

    return [f for f in findings if keep(f)]
