"""One request in, one answer out: fetch, unpack, audit, and the bytes whose hash goes on chain.

`process(job, w3, settings, audit_fn=None) -> Answer` never raises for bad input: the protocol
answers bad inputs on chain rather than dropping them, so every failure becomes an `Answer`
with its status code (docs/oracle-protocol.md, "Results") and a small canonical JSON error
document as output. Status mapping:

========================= =============================================================================
status                    when
========================= =============================================================================
OK (0)                    audited; output = canonical report bytes, high/medium = counted findings
INPUT_UNAVAILABLE (1)     no inline input and the URI failed: refused address (oracle/safe_fetch.py),
                          unreachable, HTTP error, bad scheme, file:// not allowed, malformed data:
                          URI -- one public document for all, so it reveals nothing of the network
INPUT_HASH_MISMATCH (2)   keccak256(input or code) != the request's inputHash
INPUT_TOO_LARGE (3)       input over `max_input_bytes`; archive over a limit (too_large, bomb,
                          too_many_files)
NOT_SOLIDITY (4)          no `.sol` file among the unpacked files, none the auditor accepts, or an input
                          that cannot be unpacked safely (bad_format, traversal, absolute, symlink, ...)
COMPILE_ERROR (5)         every own source file failed to compile (the report's `files`)
TIMEOUT (6)               the audit ran past `audit_timeout_s` (the audit child process tree is killed)
INTERNAL_ERROR (7)        the node failed (RPC error, tool missing or crashed): `Answer.retryable`;
                          workers should retry before submitting it
NO_CODE (8)               code request for an address without code (or without a valid address)
========================= =============================================================================

Error documents hold only what every honest node computes alike from the committed input (a
fixed reason per status, the archive error code and message, compiler messages), so a quorum
can agree on them too; the node-local detail is in `Answer.reason`, which is never signed.

Source audits run `auditor.pipeline.audit` in a child process ("spawn" context) that is killed,
with every process it started, when the time budget runs out. As with any "spawn" child, the
program's main module is imported again in the child: scripts that call `process` must keep
their work under `if __name__ == "__main__":` (the `solsentry` console script does). Code audits
run Mythril on the runtime bytecode (SolSentry's pipeline is source-only); see `code_report`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.archive import ArchiveError, ArchiveLimits, unpack
from auditor.errors import AuditorError, TargetError
from auditor.findings import Severity
from auditor.isolated import AuditTimeout, audit_isolated
from auditor.pipeline import AuditOptions
from auditor.report.model import Report, Summary
from oracle.canonical import canonical_bytes, model_hash, output_hash
from oracle.config import OracleSettings
from oracle.inputs import InputError, ResultStatus, fetch
from oracle.store import Job

log = logging.getLogger(__name__)

__all__ = ["ERROR_SCHEMA", "Answer", "AuditFn", "ResultStatus", "code_report", "error_document", "model_config",
           "process", "stub_audit"]

ERROR_SCHEMA = "solsentry.oracle-error/1"
CODE_SCHEMA = "solsentry.code-report/1"
AuditFn = Callable[[Path, AuditOptions], Report]

_REASONS = {
    ResultStatus.INPUT_UNAVAILABLE: "the input could not be fetched",
    ResultStatus.INPUT_HASH_MISMATCH: "the input does not hash to the committed inputHash",
    ResultStatus.INPUT_TOO_LARGE: "the input is over the node's size limits",
    ResultStatus.NOT_SOLIDITY: "no Solidity sources in the input",
    ResultStatus.COMPILE_ERROR: "no source compiled",
    ResultStatus.TIMEOUT: "the audit ran past its time budget",
    ResultStatus.INTERNAL_ERROR: "the node failed to audit the input",
    ResultStatus.NO_CODE: "no code at the target address",
}
_SIZE_CODES = frozenset({"too_large", "bomb", "too_many_files"})
_MAX_COUNT = 255


@dataclass(frozen=True)
class Answer:
    status: int
    output: bytes
    output_hash: bytes
    model_hash: bytes
    high: int
    medium: int
    reason: str = ""  # node-local detail for logs and the job store; not signed, not in `output`

    @property
    def retryable(self) -> bool:
        """INTERNAL_ERROR: the node failed, not the input; retry before answering it on chain."""
        return self.status == ResultStatus.INTERNAL_ERROR


class _Failure(Exception):
    def __init__(self, status: ResultStatus, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.extra = extra


# ---- the entry point ---------------------------------------------------------------------------
def process(job: Job, w3: Any, settings: OracleSettings, audit_fn: AuditFn | None = None) -> Answer:
    """Answer `job`. `audit_fn` (or the setting `auditor="stub"`) replaces the analysis and runs
    in this process without a time budget: it exists for the latency benchmark and tests only."""
    if audit_fn is None and settings.auditor == "stub":
        audit_fn = stub_audit
    kind = "code" if job.kind == "code" else "source"
    try:
        model = model_hash(model_config(settings, kind))
    except Exception as exc:  # a misconfigured tool list must not stop the node from answering
        log.exception("cannot describe the analysis configuration")
        model = model_hash(f"solsentry={__version__};kind={kind};error={type(exc).__name__}")
    try:
        data = fetch(job, w3, settings)
        if kind == "code":
            return _code_job(job, data, settings, model, audit_fn)
        return _source_job(data, settings, model, audit_fn)
    except InputError as exc:
        return _error(exc.status, model, str(exc))
    except _Failure as exc:
        return _error(exc.status, model, str(exc), **exc.extra)
    except Exception as exc:
        log.exception("request %s: internal error", job.request_id)
        return _error(ResultStatus.INTERNAL_ERROR, model, f"{type(exc).__name__}: {exc}")


def model_config(settings: OracleSettings, kind: str = "source") -> str:
    """The analysis configuration whose keccak256 is `modelHash`: SolSentry's version, the tools
    with their versions (as in the report's `tools`), Mythril's execution timeout when Mythril
    runs, and the review model id. Source and code audits differ (code audits run Mythril only);
    the stub auditor says so."""
    return _model_config(kind, tuple(settings.audit_tools), settings.audit_mythril_timeout_s,
                         _review_id(settings.review) if kind == "source" else "none", settings.auditor)


@cache
def _review_id(review: str) -> str:
    """The review model's id (name@hash of its files), or "none"."""
    from auditor.review.registry import get_reviewer

    reviewer = get_reviewer(review)
    if reviewer is None:
        return "none"
    try:
        return reviewer.model_id
    except AuditorError:
        return f"{review}@unavailable"      # the audit reports the review as failed; nodes still agree


@cache
def _model_config(kind: str, tools: tuple[str, ...], mythril_timeout: int | None, review: str, auditor: str) -> str:
    from auditor.config import get_settings
    from auditor.tools.registry import get_tool

    if auditor == "stub":
        return f"solsentry={__version__};kind={kind};tools=stub@{__version__};review={review}"
    names = ("mythril",) if kind == "code" else tuple(sorted(set(tools)))
    versions = []
    for name in names:
        try:
            versions.append(f"{name}@{get_tool(name).version()}")
        except AuditorError:
            versions.append(f"{name}@unknown")
    parts = [f"solsentry={__version__}", f"kind={kind}", f"tools={','.join(versions)}"]
    if "mythril" in names:
        parts.append(f"mythril_timeout={mythril_timeout or get_settings().mythril_timeout_s}")
    parts.append(f"review={review}")
    return ";".join(parts)


# ---- answers -----------------------------------------------------------------------------------
def _dumps(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_document(status: ResultStatus | int, **extra: Any) -> bytes:
    """`{"schema":"solsentry.oracle-error/1","status":N,"name":"...","reason":"...",...}`, canonical
    (UTF-8, sorted keys, no whitespace). `extra` adds deterministic detail (e.g. `code`, `errors`)."""
    status = ResultStatus(status)
    doc = {"schema": ERROR_SCHEMA, "status": int(status), "name": status.name,
           "reason": _REASONS.get(status, status.name.lower()), **extra}
    return _dumps(doc)


def _error(status: ResultStatus, model: bytes, reason: str, **extra: Any) -> Answer:
    out = error_document(status, **extra)
    log.info("answer %s: %s", status.name, reason)
    return Answer(int(status), out, output_hash(out), model, 0, 0, reason)


def _ok(output: bytes, model: bytes, high: int, medium: int) -> Answer:
    return Answer(int(ResultStatus.OK), output, output_hash(output), model, min(high, _MAX_COUNT),
                  min(medium, _MAX_COUNT), "audited")


def _options(settings: OracleSettings) -> AuditOptions:
    return AuditOptions(tools=tuple(settings.audit_tools), jobs=settings.audit_jobs,
                        mythril_timeout=settings.audit_mythril_timeout_s, use_cache=settings.audit_use_cache,
                        review=settings.review, hosted=True)


def _tempdir(settings: OracleSettings) -> tempfile.TemporaryDirectory:
    if settings.work_dir is not None:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="solsentry-job-", dir=settings.work_dir)


# ---- source requests ---------------------------------------------------------------------------
def _limits(settings: OracleSettings) -> ArchiveLimits:
    return ArchiveLimits(max_files=settings.archive_max_files, max_file_bytes=settings.archive_max_file_bytes,
                         max_total_bytes=settings.archive_max_total_bytes, max_ratio=settings.archive_max_ratio)


def _source_job(data: bytes, settings: OracleSettings, model: bytes, audit_fn: AuditFn | None) -> Answer:
    with _tempdir(settings) as tmp:
        dest = Path(tmp).resolve() / "input"
        dest.mkdir()
        try:
            written = unpack(data, dest, _limits(settings))
        except ArchiveError as exc:
            if exc.code in _SIZE_CODES:
                raise _Failure(ResultStatus.INPUT_TOO_LARGE, str(exc), code=exc.code) from None
            raise _Failure(ResultStatus.NOT_SOLIDITY, str(exc), code=exc.code, detail=str(exc)) from None
        if not any(p.suffix == ".sol" for p in written):
            raise _Failure(ResultStatus.NOT_SOLIDITY, f"no .sol file among {len(written)} unpacked file(s)")
        root = _audit_root(dest)
        options = _options(settings)
        if audit_fn is not None:
            try:
                report = audit_fn(root, options)
            except TargetError as exc:
                raise _Failure(ResultStatus.NOT_SOLIDITY, str(exc)) from None
        else:
            report = _audit_in_child(root, options, settings.audit_timeout_s, settings.children_dir,
                                     settings.audit_memory_mb)
        return _judge(report, root, model)


def _audit_root(dest: Path) -> Path:
    """`dest`, or its only folder when that folder is a framework project (a repository archive
    such as GitHub's wraps everything in `name-branch/`): project configs are found at the root."""
    from auditor.targets.frameworks import detect_project

    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        try:
            if detect_project(entries[0]) is not None:
                return entries[0]
        except (AuditorError, OSError, ValueError):
            pass
    return dest


def _judge(report: Report, root: Path, model: bytes) -> Answer:
    own = [f for f in report.files if not f.dependency]
    if own and all(f.status == "error" for f in own):
        prefix = str(root).rstrip("/") + "/"
        errors = [{"file": f.path, "error": (f.error or "").replace(prefix, "./").replace(str(root), ".")[:1000]}
                  for f in sorted(own, key=lambda f: f.path)]
        raise _Failure(ResultStatus.COMPILE_ERROR, f"none of {len(own)} source file(s) compiled", errors=errors)
    counted = report.counted()
    high = sum(1 for f in counted if f.severity == Severity.HIGH)
    medium = sum(1 for f in counted if f.severity == Severity.MEDIUM)
    return _ok(canonical_bytes(report, workdir=str(root)), model, high, medium)


def _audit_in_child(root: Path, options: AuditOptions, budget_s: float, children_dir: Path | None = None,
                    memory_mb: int = 0) -> Report:
    """The audit in its own process (auditor.isolated, recorded in `children_dir` while it runs, its
    tree's resident memory capped at `memory_mb`), its failures as answer statuses."""
    try:
        return audit_isolated(root, options, budget_s, memory_mb, children_dir=children_dir)
    except AuditTimeout as exc:
        raise _Failure(ResultStatus.TIMEOUT, str(exc)) from None
    except TargetError as exc:
        raise _Failure(ResultStatus.NOT_SOLIDITY, str(exc)) from None
    except AuditorError as exc:       # AuditCrashed (AuditMemoryExceeded too) and the audit's own errors
        raise _Failure(ResultStatus.INTERNAL_ERROR, str(exc)) from None


# ---- the stub auditor (latency benchmark only) -------------------------------------------------
def stub_audit(path: Path, options: AuditOptions) -> Report:
    """A constant-time stand-in for `auditor.pipeline.audit`, selected by `auditor="stub"`.

    It exists only for the latency benchmark of the node (fetch, unpack, hash, sign, submit without
    the minutes an audit takes): it reads nothing and always returns the same small report with no
    findings. Its answers carry their own modelHash (`tools=stub@...`), so they can never pass for
    real audits.
    """
    return Report(solsentry_version=__version__, target=str(path), target_kind="directory", tools=[], tool_runs=[],
                  files=[], findings=[], summary=Summary())


# ---- code requests: Mythril on runtime bytecode ------------------------------------------------
def _code_job(job: Job, code: bytes, settings: OracleSettings, model: bytes, audit_fn: AuditFn | None) -> Answer:
    with _tempdir(settings) as tmp:
        hex_file = Path(tmp).resolve() / "runtime.hex"
        hex_file.write_text(code.hex(), encoding="ascii")
        if audit_fn is not None:
            report = audit_fn(hex_file, _options(settings))
            counted = report.counted()
            return _ok(canonical_bytes(report, workdir=tmp), model,
                       sum(1 for f in counted if f.severity == Severity.HIGH),
                       sum(1 for f in counted if f.severity == Severity.MEDIUM))
        doc = code_report(job, code, hex_file, settings)
    return _ok(_dumps(doc), model, doc["summary"]["high"], doc["summary"]["medium"])


def code_report(job: Job, code: bytes, hex_file: Path, settings: OracleSettings) -> dict:
    """Run Mythril on the runtime bytecode in `hex_file`; the report of a code audit (a dict; the
    output is its canonical JSON: UTF-8, sorted keys, no whitespace). Shape::

        {"schema": "solsentry.code-report/1", "solsentry_version": "0.1.0",
         "target": "0x<checksummed address>", "target_kind": "bytecode",
         "codehash": "0x<keccak256 of the code>", "code_size": <bytes>,
         "tools": [{"name": "mythril", "version": "...", "runs": 1, "ok": 1, "failed": 0,
                    "timeout": 0, "skipped": 0}],
         "tool_runs": [{"tool": "mythril", "unit": "runtime", "state": "ok", "message": null,
                        "findings": N}],
         "files": [],
         "findings": [{"id": "<16 hex>", "title": "...", "swc": "SWC-106" | null, "category": "...",
                       "severity": "high|medium|low|informational", "confidence": "...",
                       "address": <program counter>, "function": "kill()" | null,
                       "description": "...", "tools": ["mythril"],
                       "reporters": [{"tool": "mythril", "detector": "SWC-106", "severity": ...,
                                      "confidence": ...}],
                       "suppressed": null}, ...],
         "summary": {"high": H, "medium": M, "low": L, "informational": I, "suppressed": 0,
                     "total": N},
         "mythril_settings": {"execution_timeout_s": 60, "transactions": 2, "solver_timeout_ms": 10000}}

    The fields mirror `solsentry.report/1` where they mean the same; locations are program
    counters, since bytecode has no source lines. Findings are sorted by severity (highest
    first), address, SWC id and title; Mythril's transaction sequences (solver-chosen values)
    are left out. A run whose exploration stopped at its execution budget has state `timeout`
    (with `ok` 0, `timeout` 1) and a message saying its findings are partial, as in source reports.
    Raises _Failure (TIMEOUT, INTERNAL_ERROR) when Mythril cannot answer.
    """
    from web3 import Web3

    from auditor.solc.provider import SolcProvider
    from auditor.tools.mythril import GRACE_S, MythrilTool, budget_spent

    tool = MythrilTool(execution_timeout=settings.audit_mythril_timeout_s)
    if reason := tool.unavailable():
        raise _Failure(ResultStatus.INTERNAL_ERROR, reason)
    compilers = SolcProvider().installed()
    if not compilers:  # the launcher wants one although nothing is compiled
        raise _Failure(ResultStatus.INTERNAL_ERROR, "no solc installed (Mythril's launcher needs one)")
    args = ["analyze", "--bin-runtime", "-f", str(hex_file), "-o", "json", "--execution-timeout",
            str(tool.execution_timeout), "-t", "2", "--solver-timeout", "10000", "--no-onchain-data"]
    limit = min(settings.audit_timeout_s, tool.execution_timeout + GRACE_S)
    verdict, out, err, returncode = tool.invoke(args, hex_file.parent, str(compilers[0].path),
                                                str(compilers[0].version), limit)
    if verdict == "timeout":
        raise _Failure(ResultStatus.TIMEOUT, f"Mythril ran past {limit:g} s")
    if verdict == "memory":
        raise _Failure(ResultStatus.INTERNAL_ERROR, f"Mythril went over the {tool.memory_mb} MB memory cap")
    try:
        data = json.loads(out)
    except ValueError:
        tail = (err.decode(errors="replace").strip().splitlines() or [f"exit {returncode}"])[-1]
        raise _Failure(ResultStatus.INTERNAL_ERROR, f"Mythril failed: {tail[:500]}") from None
    if not data.get("success", True) or data.get("error"):
        raise _Failure(ResultStatus.INTERNAL_ERROR, f"Mythril failed: {str(data.get('error'))[:500]}")
    findings = _code_findings(data.get("issues") or [])
    partial = budget_spent(err, tool.execution_timeout)     # exploration stopped at the budget
    summary = Summary(total=len(findings))
    for f in findings:
        setattr(summary, f["severity"], getattr(summary, f["severity"]) + 1)
    return {
        "schema": CODE_SCHEMA, "solsentry_version": __version__,
        "target": Web3.to_checksum_address(job.target or "0x" + "0" * 40), "target_kind": "bytecode",
        "codehash": "0x" + output_hash(code).hex(), "code_size": len(code),
        "tools": [{"name": "mythril", "version": tool.version(), "runs": 1, "ok": 0 if partial else 1, "failed": 0,
                   "timeout": 1 if partial else 0, "skipped": 0}],
        "tool_runs": [{"tool": "mythril", "unit": "runtime", "state": "timeout" if partial else "ok",
                       "message": partial, "findings": len(findings)}],
        "files": [],
        "findings": findings,
        "summary": summary.model_dump(),
        "mythril_settings": {"execution_timeout_s": tool.execution_timeout, "transactions": 2,
                             "solver_timeout_ms": 10000},
    }


def _code_findings(issues: list[dict]) -> list[dict]:
    from auditor.swc import mythril_class, mythril_confidence, mythril_severity

    found: dict[str, dict] = {}
    for issue in issues:
        raw_id = str(issue.get("swc-id", "")).strip()
        swc, category = mythril_class(raw_id)
        severity = mythril_severity(issue.get("severity", "Low"))
        confidence = mythril_confidence(raw_id)
        title = str(issue.get("title") or swc or "mythril issue")
        try:
            address = int(issue.get("address") or 0)
        except (TypeError, ValueError):
            address = 0
        function = issue.get("function") or None
        detector = swc or f"mythril-{raw_id or 'unknown'}"
        fid = hashlib.sha256("\x1f".join(map(str, (detector, address, function or "", title))).encode()).hexdigest()
        found.setdefault(fid[:16], {
            "id": fid[:16], "title": title, "swc": swc, "category": category.value, "severity": severity.value,
            "confidence": confidence.value, "address": address, "function": function,
            "description": " ".join(str(issue.get("description") or "").split()), "tools": ["mythril"],
            "reporters": [{"tool": "mythril", "detector": detector, "severity": severity.value,
                           "confidence": confidence.value}],
            "suppressed": None,
        })
    return sorted(found.values(), key=lambda f: (-Severity(f["severity"]).rank, f["address"], f["swc"] or "",
                                                 f["title"], f["id"]))
