"""PR mode: report only what a change introduced (`solsentry audit PATH --diff REF | --diff-from FILE`).

A finding is *new* when its fingerprint (auditor/findings.py: file, contract, function and the
flagged code, no line numbers; the same match as `--baseline`, auditor/suppress.py) is absent from
the base audit; a base fingerprint the head no longer has is *fixed*. The PR report holds the new
findings only, tool and model findings alike, so its summary, `--fail-on`, SARIF and Markdown are
about the change; `Report.diff` says what it was compared with and how many were fixed or left out.

The base is either a commit of the repository holding PATH (audited here, auditor/prbase.py) or a
JSON report written earlier by `solsentry audit --format json` (a full one, not a PR report).
`prepare` checks what it can before the head audit, so a bad ref or file fails in one line at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from auditor.errors import AuditorError
from auditor.findings import sort_key
from auditor.options import AuditOptions
from auditor.report.model import SCHEMA_ID, DiffInfo, Report, summarize


class DiffError(AuditorError):
    """PR mode was given a base it cannot use (not a SolSentry report, both or neither of --diff*)."""


@dataclass
class Base:
    """What the head is compared with: a commit (`repo`, `commit`, `rel`: PATH inside the repo) or,
    for a base report, its fingerprints already (`fingerprints`)."""

    name: str
    commit: str | None = None
    repo: Path | None = None
    rel: str | None = None
    fingerprints: frozenset[str] | None = None
    complete: bool = True


def prepare(path: Path, ref: str | None, report_file: Path | None) -> Base | None:
    """The base of PR mode, checked before the audit; None without --diff / --diff-from."""
    if ref is not None and report_file is not None:
        raise DiffError("give --diff REF or --diff-from REPORT.json, not both")
    if report_file is not None:
        report = load_base_report(report_file)
        return Base(name=report_file.name, fingerprints=frozenset(f.fingerprint for f in report.findings),
                    complete=report.complete)
    if ref is None:
        return None
    from auditor.gitbase import resolve, toplevel

    repo = toplevel(path.resolve())
    commit = resolve(repo, ref)
    rel = path.resolve().relative_to(repo).as_posix()
    return Base(name=ref, commit=commit, repo=repo, rel=rel)


def load_base_report(path: Path) -> Report:
    """A full JSON report of `solsentry audit --format json`, or a one-line DiffError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DiffError(f"--diff-from {path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DiffError(f"--diff-from {path}: not a JSON file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_ID:
        raise DiffError(f"--diff-from {path}: not a SolSentry JSON report (expected schema {SCHEMA_ID}; "
                        "write one with solsentry audit --format json)")
    try:
        report = Report.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise DiffError(f"--diff-from {path}: not a valid SolSentry report ({where}: {first.get('msg')})") from None
    if report.diff is not None:
        # Its findings are only what was new against its own base: comparing with it would call
        # every older finding new.
        raise DiffError(f"--diff-from {path}: a PR-mode report (only new findings); give a full report")
    return report


def apply(head: Report, base: Base, options: AuditOptions) -> Report:
    """The PR report of `head` against `base` (audited now when it is a commit)."""
    if base.fingerprints is None:
        from auditor.prbase import BaseCommit, base_fingerprints

        assert base.repo is not None and base.commit is not None and base.rel is not None
        fingerprints, complete = base_fingerprints(BaseCommit(base.name, base.repo, base.commit, base.rel), options)
        base = Base(**{**base.__dict__, "fingerprints": fingerprints, "complete": complete})
    return compare(head, base)


def compare(head: Report, base: Base) -> Report:
    old = base.fingerprints or frozenset()
    new = sorted((f for f in head.findings if f.fingerprint not in old), key=sort_key)
    fixed = len(old - {f.fingerprint for f in head.findings})
    info = DiffInfo(base=base.name, base_commit=base.commit, base_complete=base.complete, new=len(new),
                    fixed=fixed, unchanged=len(head.findings) - len(new))
    return head.model_copy(update={"findings": new, "summary": summarize(new), "diff": info})
