"""Accepted findings: inline comments in the source and a baseline file for CI adoption.

Inline:   // solsentry-disable-next-line SWC-107, reentrancy
          x.call(...);  // solsentry-disable-line unchecked_low_level_calls
With no rule list the comment silences every finding on that line. A rule is an SWC id,
a category, a finding title's detector (`slither:reentrancy-eth`, `mythril:SWC-107`) or a
bare detector name (`reentrancy-eth`).

Baseline: findings matched by `Finding.fingerprint`, which names the place by file, contract,
function and the flagged code (not line numbers), so unrelated edits keep the match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from auditor.errors import AuditorError
from auditor.findings import Finding

BASELINE_SCHEMA = "solsentry.baseline/1"
_DIRECTIVE = re.compile(r"solsentry-disable-(next-line|line)\b([^\n*]*)")


def _rules(text: str) -> set[str]:
    return {r.strip().lower() for r in re.split(r"[,\s]+", text) if r.strip()}


def _matches(finding: Finding, rules: set[str]) -> bool:
    if not rules:
        return True
    names = {finding.category.value, *(r.detector.lower() for r in finding.reporters),
             *(f"{r.tool}:{r.detector}".lower() for r in finding.reporters)}
    if finding.swc:
        names.add(finding.swc.lower())
    return bool(names & rules)


def apply_inline(findings: list[Finding], read_lines: Callable[[str], list[str]]) -> None:
    for f in findings:
        if f.suppressed:
            continue
        loc = f.primary
        lines = read_lines(loc.file)
        for lineno, kind in ((loc.start_line - 1, "next-line"), (loc.start_line, "line")):
            if 1 <= lineno <= len(lines):
                for m in _DIRECTIVE.finditer(lines[lineno - 1]):
                    if m.group(1) == kind and _matches(f, _rules(m.group(2))):
                        f.suppressed = "inline"


def load_baseline(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise AuditorError(f"baseline file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise AuditorError(f"baseline file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        raise AuditorError(f"{path} is not a SolSentry baseline (expected schema {BASELINE_SCHEMA})")
    return {e["fingerprint"] for e in data.get("findings", []) if isinstance(e, dict) and "fingerprint" in e}


def apply_baseline(findings: list[Finding], accepted: set[str]) -> None:
    for f in findings:
        if not f.suppressed and f.fingerprint in accepted:
            f.suppressed = "baseline"


def write_baseline(findings: list[Finding], path: Path) -> int:
    """Accept every finding that is not already suppressed inline; returns how many."""
    entries = [{"fingerprint": f.fingerprint, "title": f.title, "swc": f.swc, "category": f.category.value,
                "file": f.primary.file, "contract": f.primary.contract, "function": f.primary.function}
               for f in findings if f.suppressed != "inline"]
    doc = {"schema": BASELINE_SCHEMA, "created": datetime.now(UTC).isoformat(timespec="seconds"),
           "findings": sorted(entries, key=lambda e: (e["file"], e["fingerprint"]))}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return len(entries)
