"""Warm audits on Ray: long-lived actors, each holding one warm worker (auditor/runtime/warm.py).

An actor (`AuditActor`, one CPU) lives on some node of the cluster and keeps a warm worker
process there: the tools imported, the compilers resident, the review model loaded. An audit goes
to an idle actor with its sources as a zip (no shared filesystem needed), unpacked there under the
caller's archive limits into a directory of its own; the actor's worker runs it under the same
time budget and memory cap on its process tree as a local warm worker, and one that broke a limit
or crashed is replaced inside the actor, never reused. An actor that dies (its node lost, killed)
or does not answer `RAY_GRACE_S` after the budget is killed and replaced by a new actor. Actors
are spread over the nodes (`SPREAD`); they outlive no service: `close()` kills them.

What Ray cannot do here: record the workers for a restarted server's cleanup (they are on other
machines; they die with their actor, `auditor.runtime.children`).
"""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError, TargetError
from auditor.options import AuditOptions
from auditor.report.model import Report
from auditor.runtime.isolated import RAY_GRACE_S, AuditCrashed, AuditMemoryExceeded, AuditTimeout, pack
from auditor.runtime.warm import READY_TIMEOUT_S, PoolConfig, WarmPool
from auditor.targets.bytecode import BytecodeTarget

if TYPE_CHECKING:
    from auditor.archive_guard import ArchiveLimits

log = logging.getLogger(__name__)
_ERRORS = {"timeout": AuditTimeout, "memory": AuditMemoryExceeded, "crashed": AuditCrashed, "target": TargetError}


class AuditActor:
    """Runs in a Ray worker process (made a Ray actor class by `RayActorPool`)."""

    def __init__(self, config: PoolConfig, archive_limits: ArchiveLimits | None) -> None:
        self.pool = WarmPool(replace(config, size=1, children_dir=None))
        self.pool.start()
        self.archive_limits = archive_limits

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def pids(self) -> list[int]:
        return self.pool.pids()

    def audit(self, payload: bytes | BytecodeTarget, options: AuditOptions, budget_s: float,
              memory_mb: int) -> tuple[str, str]:
        """("ok", report JSON) | (error kind, message)."""
        from auditor.archive import ArchiveError, unpack

        with tempfile.TemporaryDirectory(prefix="solsentry-ray-") as tmp:
            try:
                if isinstance(payload, BytecodeTarget):
                    target: Path | BytecodeTarget = payload
                else:
                    unpack(payload, Path(tmp), self.archive_limits)
                    target = Path(tmp)
                return "ok", self.pool.run(target, options, budget_s, memory_mb).to_json(indent=None)
            except AuditTimeout as exc:
                return "timeout", str(exc)
            except AuditMemoryExceeded as exc:
                return "memory", str(exc)
            except AuditCrashed as exc:
                return "crashed", str(exc)
            except (TargetError, ArchiveError) as exc:
                return "target", str(exc)
            except AuditorError as exc:
                return "error", str(exc)


class RayActorPool:
    NAME = "warm"
    DESCRIPTION = "long-lived Ray actors, each holding one warm worker"

    def __init__(self, config: PoolConfig, ray_address: str | None = None,
                 archive_limits: ArchiveLimits | None = None) -> None:
        self.config, self.address, self.archive_limits = config, ray_address, archive_limits
        self._idle: queue.Queue[Any] = queue.Queue()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._cls: Any = None

    def start(self) -> None:
        import ray

        from auditor.runtime.executors import ray_init

        ray_init(self.address)
        self._cls = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(AuditActor)
        for _ in range(self.config.size):
            self._idle.put(self._new())

    def _new(self) -> Any:
        actor = self._cls.options(scheduling_strategy="SPREAD").remote(self.config, self.archive_limits)
        with self._lock:
            self._all.append(actor)
        return actor

    def _drop(self, actor: Any) -> None:
        import ray

        with self._lock:
            if actor in self._all:
                self._all.remove(actor)
        try:
            ray.kill(actor, no_restart=True)
        except Exception:          # already dead
            log.debug("killing a dead audit actor", exc_info=True)

    def ready(self) -> int:
        """The actors alive (each warms its worker in its own time)."""
        return len(self.actors())

    def actors(self) -> list[Any]:
        with self._lock:
            return list(self._all)

    def run(self, root: str | Path | BytecodeTarget, options: AuditOptions, budget_s: float,
            memory_mb: int = 0) -> Report:
        import ray

        actor = self._idle.get()
        payload = root if isinstance(root, BytecodeTarget) else pack(Path(root))
        ref = actor.audit.remote(payload, options, budget_s, memory_mb)
        # A new actor may still be warming up its worker: that wait is not the audit's budget.
        try:
            kind, text = ray.get(ref, timeout=budget_s + READY_TIMEOUT_S + RAY_GRACE_S)
        except ray.exceptions.GetTimeoutError:
            self._drop(actor)
            self._idle.put(self._new())
            raise AuditTimeout(f"the audit ran past its budget of {budget_s:g} s") from None
        except ray.exceptions.RayError as exc:      # the actor died (node lost, killed, out of memory)
            self._drop(actor)
            self._idle.put(self._new())
            raise AuditCrashed(f"the audit actor died ({type(exc).__name__})") from None
        self._idle.put(actor)
        if kind == "ok":
            return Report.model_validate_json(text)
        raise _ERRORS.get(kind, AuditorError)(text)

    def close(self) -> None:
        for actor in self.actors():
            self._drop(actor)
