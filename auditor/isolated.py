"""Running one audit in its own process: a time budget, a cap on the resident memory of its whole
process tree (`auditor.limits`, the policy Mythril runs under too), and a clean kill of
everything it started. Used by the oracle node and the HTTP service alike.

The child cannot outlive this process (`auditor.children`): it leads its own process group and
kills its whole tree when its parent is gone; with `children_dir` it is recorded there while it
runs, so that a restarted server can kill what a killed one left behind (`kill_leftovers`)."""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from auditor import children, limits
from auditor.children import kill_tree
from auditor.errors import AuditorError, TargetError
from auditor.pipeline import AuditOptions
from auditor.report.model import Report


class AuditTimeout(AuditorError):
    """The audit ran past its time budget (it and every process it started were killed)."""


class AuditCrashed(AuditorError):
    """The audit process died without an answer (out of memory, a crash in a native tool)."""


class AuditMemoryExceeded(AuditCrashed):
    """The audit's process tree went over its resident-memory cap (it was killed whole)."""


def audit_isolated(root: Path | str, options: AuditOptions, budget_s: float, memory_mb: int = 0,
                   children_dir: Path | None = None) -> Report:
    """Run `auditor.pipeline.audit` in a fresh "spawn" child; past `budget_s` the child and
    everything it started (worker pools, solc, Mythril) is killed and AuditTimeout is raised; with
    the resident memory of that tree over `memory_mb` (0: no cap), AuditMemoryExceeded.
    TargetError and other AuditorErrors of the audit are raised again here, with their message.
    With `children_dir`, the running child is recorded there (`auditor.children.record`)."""
    ctx = multiprocessing.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    token = children.new_token()
    proc = ctx.Process(target=_child_main, args=(writer, str(root), options, os.getpid(), token),
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


def _child_main(conn: Any, root: str, options: AuditOptions, parent_pid: int, token: str) -> None:
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
