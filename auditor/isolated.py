"""Running one audit in its own process: a time budget, an optional address-space cap, and a
clean kill of everything it started. Used by the oracle node and the HTTP service alike."""

from __future__ import annotations

import multiprocessing
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from auditor.errors import AuditorError, TargetError
from auditor.pipeline import AuditOptions
from auditor.report.model import Report


class AuditTimeout(AuditorError):
    """The audit ran past its time budget (it and every process it started were killed)."""


class AuditCrashed(AuditorError):
    """The audit process died without an answer (out of memory, a crash in a native tool)."""


def audit_isolated(root: Path | str, options: AuditOptions, budget_s: float, memory_mb: int = 0) -> Report:
    """Run `auditor.pipeline.audit` in a fresh "spawn" child; past `budget_s` the child and
    everything it started (worker pools, solc, Mythril) is killed and AuditTimeout is raised.
    TargetError and other AuditorErrors of the audit are raised again here, with their message."""
    ctx = multiprocessing.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(writer, str(root), options, memory_mb), name="solsentry-audit")
    started = time.monotonic()
    proc.start()
    writer.close()
    try:
        if not reader.poll(budget_s):
            raise AuditTimeout(f"the audit ran past its budget of {budget_s:g} s")
        try:
            kind, payload = reader.recv()
        except (EOFError, OSError):
            proc.join(5)
            raise AuditCrashed(f"the audit process died (exit code {proc.exitcode}; out of memory?)") from None
    finally:
        if proc.is_alive() and time.monotonic() - started < budget_s:  # answered: let it exit by itself
            proc.join(min(10.0, budget_s - (time.monotonic() - started)))
        if proc.is_alive():
            kill_tree(proc.pid)
            proc.join(10)
        reader.close()
    if kind == "ok":
        return Report.model_validate_json(payload)
    if kind == "target":
        raise TargetError(payload)
    raise AuditorError(payload)


def _child_main(conn: Any, root: str, options: AuditOptions, memory_mb: int) -> None:
    """In the child: audit and send ("ok", report JSON) | ("target", message) | ("error", message)."""
    try:
        if memory_mb > 0:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024,) * 2)
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


def kill_tree(pid: int) -> None:
    """SIGKILL `pid` and all its descendants. Everyone is stopped (SIGSTOP) first, so that nobody
    can start a new process between the listing and the killing."""
    import psutil

    try:
        top = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs: dict[int, psutil.Process] = {pid: top}
    with suppress(psutil.Error):
        top.suspend()
    for _ in range(3):
        try:
            found = [p for p in top.children(recursive=True) if p.pid not in procs]
        except psutil.Error:
            break
        if not found:
            break
        for p in found:
            procs[p.pid] = p
            with suppress(psutil.Error):
                p.suspend()
    for p in procs.values():
        with suppress(psutil.Error):
            p.kill()
    # Wait until each is gone or a zombie (its reaping is up to its parent, or init, not us).
    deadline = time.monotonic() + 10
    pending = [p for p in procs.values() if p.pid != pid]
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if _running(p)]
        if pending:
            time.sleep(0.02)


def _running(p: Any) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
