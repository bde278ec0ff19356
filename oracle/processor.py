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
can agree on them too; the node-local detail is in `Answer.reason`, which is never signed
(oracle/answers.py).

Source audits run `auditor.pipeline.audit` in a process of the node's audit runner (`make_runner`,
auditor/runtime/runners.py: by default a warm worker of a pool; "spawn" children either way) that
is killed, with every process it started, when the time budget runs out or its tree goes over
the memory cap, and replaced. As with any "spawn" child, the
program's main module is imported again in the child: scripts that call `process` must keep
their work under `if __name__ == "__main__":` (the `solsentry` console script does). Code audits
go the same way: the runtime code is a bytecode target (auditor/targets/bytecode.py) audited by
the tools that analyze bytecode, and the signed bytes are a `solsentry.report/1` too.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.archive import ArchiveError, ArchiveLimits, unpack
from auditor.errors import AuditorError, TargetError
from auditor.options import AuditOptions
from auditor.report.model import Report, Summary, ToolState
from auditor.runtime.isolated import AuditTimeout, audit_isolated
from auditor.targets.bytecode import BytecodeTarget
from oracle.answers import ERROR_SCHEMA, Answer, Failure, error_answer, error_document, report_answer
from oracle.canonical import canonical_bytes, model_hash
from oracle.config import OracleSettings
from oracle.inputs import InputError, ResultStatus, fetch
from oracle.store import Job

log = logging.getLogger(__name__)

__all__ = ["ERROR_SCHEMA", "Answer", "AuditFn", "ResultStatus", "error_document", "model_config", "process",
           "stub_audit"]
_Failure = Failure      # the name tests and older callers use
_SIZE_CODES = frozenset({"too_large", "bomb", "too_many_files"})

AuditFn = Callable[[Path | BytecodeTarget, AuditOptions], Report]


# ---- the entry point ---------------------------------------------------------------------------
def process(job: Job, w3: Any, settings: OracleSettings, audit_fn: AuditFn | None = None,
            runner: Any = None) -> Answer:
    """Answer `job`. `runner`: the node's audit runner (`make_runner`; None: a fresh process per
    audit). `audit_fn` (or the setting `auditor="stub"`) replaces the analysis and runs in this
    process without a time budget: it exists for the latency benchmark and tests only."""
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
            return _code_job(job, data, w3, settings, model, audit_fn, runner)
        return _source_job(data, settings, model, audit_fn, runner)
    except InputError as exc:
        return error_answer(exc.status, model, str(exc))
    except Failure as exc:
        return error_answer(exc.status, model, str(exc), **exc.extra)
    except Exception as exc:
        log.exception("request %s: internal error", job.request_id)
        return error_answer(ResultStatus.INTERNAL_ERROR, model, f"{type(exc).__name__}: {exc}")


def model_config(settings: OracleSettings, kind: str = "source") -> str:
    """The analysis configuration whose keccak256 is `modelHash`: SolSentry's version, the report
    schema (`solsentry.report/1` and its minor version), the tools with their versions (as in the
    report's `tools`) and the settings that change their results (Mythril's execution timeout),
    and the review model id. Code audits run the tools that analyze bytecode, with no review; the
    stub auditor says so."""
    return _model_config(kind, _tools(settings, kind), settings.audit_mythril_timeout_s,
                         _review_id(settings.review) if kind == "source" else "none", settings.auditor)


def _tools(settings: OracleSettings, kind: str) -> tuple[str, ...]:
    """Source requests: the configured tools; code requests: every built-in tool that analyzes bytecode."""
    from auditor.tools.base import scopes
    from auditor.tools.registry import TOOL_NAMES, tool_class

    if kind == "code":
        return tuple(n for n in TOOL_NAMES if "bytecode" in scopes(tool_class(n)))
    return tuple(sorted(set(settings.audit_tools)))


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
    from auditor.report.model import SCHEMA_ID, SCHEMA_MINOR
    from auditor.tools.registry import get_tool

    if auditor == "stub":
        return f"solsentry={__version__};kind={kind};tools=stub@{__version__};review={review}"
    options = AuditOptions(tools=tools, mythril_timeout=mythril_timeout)
    versions, settings = [], []
    for name in tools:
        try:
            tool = get_tool(name, **options.settings_for(name))
            versions.append(f"{name}@{tool.version()}")
            settings.append(tool.model_settings())
        except AuditorError:
            versions.append(f"{name}@unknown")
    parts = [f"solsentry={__version__}", f"report={SCHEMA_ID}.{SCHEMA_MINOR}", f"kind={kind}",
             f"tools={','.join(versions)}", *filter(None, settings), f"review={review}"]
    return ";".join(parts)


def _options(settings: OracleSettings, kind: str = "source") -> AuditOptions:
    tools = tuple(settings.audit_tools) if kind == "source" else _tools(settings, kind)
    return AuditOptions(tools=tools, jobs=settings.audit_jobs,
                        mythril_timeout=settings.audit_mythril_timeout_s, use_cache=settings.audit_use_cache,
                        review=settings.review if kind == "source" else "none", hosted=True)


def _tempdir(settings: OracleSettings) -> tempfile.TemporaryDirectory:
    if settings.work_dir is not None:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="solsentry-job-", dir=settings.work_dir)


# ---- source requests ---------------------------------------------------------------------------
def _limits(settings: OracleSettings) -> ArchiveLimits:
    return ArchiveLimits(max_files=settings.archive_max_files, max_file_bytes=settings.archive_max_file_bytes,
                         max_total_bytes=settings.archive_max_total_bytes, max_ratio=settings.archive_max_ratio)


def _source_job(data: bytes, settings: OracleSettings, model: bytes, audit_fn: AuditFn | None,
                runner: Any = None) -> Answer:
    with _tempdir(settings) as tmp:
        dest = Path(tmp).resolve() / "input"
        dest.mkdir()
        try:
            written = unpack(data, dest, _limits(settings))
        except ArchiveError as exc:
            if exc.code in _SIZE_CODES:
                raise Failure(ResultStatus.INPUT_TOO_LARGE, str(exc), code=exc.code) from None
            raise Failure(ResultStatus.NOT_SOLIDITY, str(exc), code=exc.code, detail=str(exc)) from None
        if not any(p.suffix == ".sol" for p in written):
            raise Failure(ResultStatus.NOT_SOLIDITY, f"no .sol file among {len(written)} unpacked file(s)")
        root = _audit_root(dest)
        options = _options(settings)
        if audit_fn is not None:
            try:
                report = audit_fn(root, options)
            except TargetError as exc:
                raise Failure(ResultStatus.NOT_SOLIDITY, str(exc)) from None
        else:
            report = _audit_in_child(root, options, settings.audit_timeout_s, settings.children_dir,
                                     settings.audit_memory_mb, runner)
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
        raise Failure(ResultStatus.COMPILE_ERROR, f"none of {len(own)} source file(s) compiled", errors=errors)
    return report_answer(report, canonical_bytes(report, workdir=str(root)), model)


def _audit_in_child(root: Path | BytecodeTarget, options: AuditOptions, budget_s: float,
                    children_dir: Path | None = None, memory_mb: int = 0, runner: Any = None) -> Report:
    """The audit in its own process: a warm worker of the node's `runner`, or without one a fresh
    child (auditor.runtime.isolated, recorded in `children_dir` while it runs); its tree's resident
    memory capped at `memory_mb`; its failures as answer statuses."""
    try:
        if runner is not None:
            return runner.run(root, options, budget_s, memory_mb)
        return audit_isolated(root, options, budget_s, memory_mb, children_dir=children_dir)
    except AuditTimeout as exc:
        raise Failure(ResultStatus.TIMEOUT, str(exc)) from None
    except TargetError as exc:
        raise Failure(ResultStatus.NOT_SOLIDITY, str(exc)) from None
    except AuditorError as exc:       # AuditCrashed (AuditMemoryExceeded too) and the audit's own errors
        raise Failure(ResultStatus.INTERNAL_ERROR, str(exc)) from None


def make_runner(settings: OracleSettings) -> Any:
    """The node's audit runner (auditor/runtime/runners.py), one per node, shared by its audit workers:
    by default `workers` warm worker processes, the review model of `review` loaded in each."""
    from auditor.runtime.runners import make_runner as make
    from auditor.runtime.warm import PoolConfig

    config = PoolConfig(size=settings.workers, max_audits=settings.audit_worker_max_audits,
                        max_growth_mb=settings.audit_worker_max_growth_mb,
                        review="embedded" if settings.review == "embedded" else None,
                        children_dir=settings.children_dir)
    return make(settings.audit_executor, settings.audit_isolation, config, settings.audit_ray_address,
                _limits(settings))


# ---- the stub auditor (latency benchmark only) -------------------------------------------------
def stub_audit(path: Path | BytecodeTarget, options: AuditOptions) -> Report:
    """A constant-time stand-in for `auditor.pipeline.audit`, selected by `auditor="stub"`.

    It exists only for the latency benchmark of the node (fetch, unpack, hash, sign, submit without
    the minutes an audit takes): it reads nothing and always returns the same small report with no
    findings. Its answers carry their own modelHash (`tools=stub@...`), so they can never pass for
    real audits.
    """
    name = path.name if isinstance(path, BytecodeTarget) else str(path)
    return Report(solsentry_version=__version__, target=name, target_kind="directory", tools=[], tool_runs=[],
                  files=[], findings=[], summary=Summary())


# ---- code requests: the runtime code as a bytecode target -------------------------------------
def _code_job(job: Job, code: bytes, w3: Any, settings: OracleSettings, model: bytes,
              audit_fn: AuditFn | None, runner: Any = None) -> Answer:
    """Audit the runtime code read at the request's block through `audit()` (in the isolated runner,
    as source requests): a `solsentry.report/1` with `target_kind` "bytecode", named by the address,
    with the chain's id and the code's hash in `bytecode`. A tool run that failed or was skipped
    (the node's tool missing or crashed) is INTERNAL_ERROR, to be retried rather than signed."""
    from web3 import Web3

    target = BytecodeTarget(code, Web3.to_checksum_address(job.target or "0x" + "0" * 40),
                            int(w3.eth.chain_id) if w3 is not None else None)
    options = _options(settings, kind="code")
    if audit_fn is not None:
        report = audit_fn(target, options)
    else:
        report = _audit_in_child(target, options, settings.audit_timeout_s, settings.children_dir,
                                 settings.audit_memory_mb, runner)
        # Killed at its hard limit, a tool explored nothing it could report: the answer is TIMEOUT (a run
        # whose exploration stopped at its budget is an answer: `timeout`, its findings partial).
        killed = [r for r in report.tool_runs
                  if r.state == ToolState.TIMEOUT and (r.message or "").startswith("killed")]
        if killed:
            raise Failure(ResultStatus.TIMEOUT, f"{killed[0].tool}: {killed[0].message}")
        broken = [r for r in report.tool_runs if r.state in (ToolState.FAILED, ToolState.SKIPPED)]
        if broken:
            raise Failure(ResultStatus.INTERNAL_ERROR,
                          "; ".join(f"{r.tool}: {r.message or r.state.value}" for r in broken)[:500])
    return report_answer(report, canonical_bytes(report), model)
