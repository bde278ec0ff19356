"""Running one audit in its own process: a time budget, a cap on the resident memory of its whole
process tree (`auditor.runtime.limits`, the policy Mythril runs under too), and a clean kill of
everything it started. Used by the oracle node and the HTTP service alike.

The child cannot outlive this process (`auditor.runtime.children`): it leads its own process group
and kills its whole tree when its parent is gone; with `children_dir` it is recorded there while it
runs, so that a restarted server can kill what a killed one left behind (`kill_leftovers`).

On Ray (`audit_on_ray`, `solsentry serve --executor ray`): the sources travel with the task as a
zip, so a cluster needs no shared filesystem, and are unpacked there under the caller's archive
limits; the task (one fresh Ray worker, `executors.ray_call`, reserving `memory_mb` in Ray's
scheduler) runs `audit_isolated` on its node: the same budget, the same cap on the resident
memory of the audit's tree and the same tree kill as a local audit. What Ray cannot do: record
the child for a restarted server's cleanup (the tree is on another machine; the child still dies
with its Ray worker); a task that never answers is cancelled `RAY_GRACE_S` after the budget."""

from __future__ import annotations

import io
import multiprocessing
import os
import time
import zipfile
from multiprocessing.connection import wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError, TargetError
from auditor.pipeline import AuditOptions
from auditor.report.model import Report
from auditor.runtime import children, limits
from auditor.runtime.children import kill_tree
from auditor.targets.bytecode import BytecodeTarget

if TYPE_CHECKING:
    from auditor.archive_guard import ArchiveLimits

RAY_GRACE_S = 30.0       # past the budget: the isolated audit in the task has had time to answer


class AuditTimeout(AuditorError):
    """The audit ran past its time budget (it and every process it started were killed)."""


class AuditCrashed(AuditorError):
    """The audit process died without an answer (out of memory, a crash in a native tool)."""


class AuditMemoryExceeded(AuditCrashed):
    """The audit's process tree went over its resident-memory cap (it was killed whole)."""


def audit_isolated(root: Path | str | BytecodeTarget, options: AuditOptions, budget_s: float, memory_mb: int = 0,
                   children_dir: Path | None = None) -> Report:
    """Run `auditor.pipeline.audit` in a fresh "spawn" child; past `budget_s` the child and
    everything it started (worker pools, solc, Mythril) is killed and AuditTimeout is raised; with
    the resident memory of that tree over `memory_mb` (0: no cap), AuditMemoryExceeded.
    TargetError and other AuditorErrors of the audit are raised again here, with their message.
    With `children_dir`, the running child is recorded there (`auditor.runtime.children.record`)."""
    ctx = multiprocessing.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    token = children.new_token()
    target = root if isinstance(root, BytecodeTarget) else str(root)
    proc = ctx.Process(target=_child_main, args=(writer, target, options, os.getpid(), token),
                       name="solsentry-audit")
    started = time.monotonic()
    proc.start()
    writer.close()
    note = children.record(children_dir, proc.pid, token) if children_dir is not None else None
    try:
        verdict = limits.watch(proc.pid, reader.poll, budget_s, memory_mb)
        if verdict == "timeout":
            raise AuditTimeout(f"the audit ran past its budget of {budget_s:g} s")
        if verdict == "memory":
            raise AuditMemoryExceeded(f"the audit went over its memory limit of {memory_mb} MB")
        try:
            kind, payload = reader.recv()
        except (EOFError, OSError):
            kind, payload = "crashed", ""
    finally:
        # The child is waited for through its sentinel, not reaped, until its group is killed: an
        # unreaped leader keeps its pid (the group's id) from being reused.
        left = budget_s - (time.monotonic() - started)
        exited = bool(wait([proc.sentinel], min(10.0, left) if left > 0 else 0))  # answered: let it exit
        if not exited:
            kill_tree(proc.pid)
        children.killpg(proc.pid)         # whatever is left in its group
        proc.join(10)
        children.forget(note)
        reader.close()
    if kind == "crashed":
        raise AuditCrashed(f"the audit process died (exit code {proc.exitcode}; out of memory?)")
    if kind == "ok":
        return Report.model_validate_json(payload)
    if kind == "target":
        raise TargetError(payload)
    raise AuditorError(payload)


def _child_main(conn: Any, root: str | BytecodeTarget, options: AuditOptions, parent_pid: int, token: str) -> None:
    """In the child: audit and send ("ok", report JSON) | ("target", message) | ("error", message)."""
    children.guard_child(parent_pid, token)
    try:
        from auditor.pipeline import audit

        report = audit(root, options)
        message: tuple[str, str] = ("ok", report.to_json(indent=None))
    except TargetError as exc:
        message = ("target", str(exc))
    except AuditorError as exc:
        message = ("error", str(exc))
    except BaseException as exc:
        message = ("error", f"{type(exc).__name__}: {exc}")
    try:
        conn.send(message)
    finally:
        conn.close()


# ---- whole audits as Ray tasks ---------------------------------------------------------------
def pack(src: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file() and not p.is_symlink():
                zf.write(p, p.relative_to(src).as_posix())
    return buf.getvalue()


def audit_task(payload: bytes, options: dict, budget_s: float, memory_mb: int,
               archive_limits: ArchiveLimits | None) -> tuple[str, str]:
    """On a Ray worker: ("ok", report JSON) | (error kind, message), raised again by `audit_on_ray`."""
    import tempfile

    from auditor.archive import unpack

    with tempfile.TemporaryDirectory(prefix="solsentry-ray-") as tmp:
        try:
            unpack(payload, Path(tmp), archive_limits)
            return "ok", audit_isolated(tmp, AuditOptions(**options), budget_s, memory_mb).to_json()
        except AuditTimeout as exc:
            return "timeout", str(exc)
        except AuditMemoryExceeded as exc:
            return "memory", str(exc)
        except TargetError as exc:
            return "target", str(exc)
        except AuditorError as exc:
            return "error", str(exc)


def audit_on_ray(src: Path, options: dict, budget_s: float, memory_mb: int,
                 archive_limits: ArchiveLimits | None = None) -> str:
    """The report JSON of auditing `src` in a Ray task; raises what `audit_isolated` raises
    (AuditTimeout, AuditMemoryExceeded, TargetError, AuditorError), and TimeoutError when the task
    does not answer `RAY_GRACE_S` after the budget."""
    from auditor.runtime.executors import ray_call

    kind, text = ray_call(audit_task, (pack(src), options, budget_s, memory_mb, archive_limits),
                          budget_s + RAY_GRACE_S, memory_mb)
    if kind == "ok":
        return text
    raise {"timeout": AuditTimeout, "memory": AuditMemoryExceeded, "target": TargetError}.get(kind, AuditorError)(text)
