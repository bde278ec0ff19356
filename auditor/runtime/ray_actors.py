"""Warm audits on Ray: long-lived actors, each holding one warm worker (auditor/runtime/warm.py).

An actor (`AuditActor`, one CPU reserved in Ray's scheduler) lives on some node of the cluster and
keeps a warm worker process there: the tools imported, the compilers resident, the review model
loaded. An audit goes to an idle actor with its sources as a zip (no shared filesystem needed),
unpacked there under the caller's archive limits into a directory of its own; the actor's worker
runs it under the same time budget and memory cap on its process tree as a local warm worker, and
one that broke a limit or crashed is replaced inside the actor, never reused. An actor is asked
whether it is alive before each audit (one found dead, killed while idle, is replaced and the
next one asked); one that dies during an audit (its node lost, killed) fails that audit
(AuditCrashed) and one that does not answer `RAY_GRACE_S` after the budget (and the warm-up time
of a new worker) fails it with AuditTimeout; either way it is killed and a new actor takes its
place. Actors are spread over the nodes (`SPREAD`); they outlive no service: `close()` has each
stop its worker and then kills it, and Ray kills them when the service's driver goes away.

Each actor answers `info()` at any time, even while it audits (a threaded actor): its node, its
pid, its worker's pids, whether the worker is warm, busy, how many audits it ran.

What Ray cannot do here: record the workers for a restarted server's cleanup (they are on other
machines; they die with their actor, `auditor.runtime.children`); remove the unpacked sources of
an audit whose actor was SIGKILLed (they stay in that node's temporary directory).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import tempfile
import threading
import time
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
# One CPU each; no restarts or retries by Ray (the pool replaces a dead actor itself, and an audit
# is never run twice); threads, so that `info()` answers while an audit runs.
ACTOR_OPTIONS: dict[str, Any] = {"num_cpus": 1, "max_restarts": 0, "max_task_retries": 0, "max_concurrency": 4}
INFO_WAIT_S = 2.0          # how long `ready()` and `nodes()` wait for the actors to answer
CLOSE_WAIT_S = 15.0        # how long `close()` lets the actors stop their workers before killing them


class AuditActor:
    """Runs in a Ray worker process (made a Ray actor class by `RayActorPool`)."""

    def __init__(self, config: PoolConfig, archive_limits: ArchiveLimits | None) -> None:
        self.pool = WarmPool(replace(config, size=1, children_dir=None))
        self.pool.start()
        self.archive_limits = archive_limits
        self.busy, self.audits = False, 0

    def info(self) -> dict:
        import ray

        return {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "workers": self.pool.pids(),
                "ready": self.pool.ready(), "busy": self.busy, "audits": self.audits, "error": self.pool.last_error}

    def close(self) -> None:
        """Stop the worker and remove its folders (before the pool kills this actor)."""
        self.pool.close()

    def audit(self, payload: bytes | BytecodeTarget, options: AuditOptions, budget_s: float,
              memory_mb: int) -> tuple[str, str]:
        """("ok", report JSON) | (error kind, message)."""
        from auditor.archive import ArchiveError, unpack

        self.busy = True
        try:
            with tempfile.TemporaryDirectory(prefix="solsentry-ray-") as tmp:
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
        finally:
            self.busy = False
            self.audits += 1


class RayActorPool:
    NAME = "warm"
    DESCRIPTION = "long-lived Ray actors, each holding one warm worker"

    def __init__(self, config: PoolConfig, ray_address: str | None = None,
                 archive_limits: ArchiveLimits | None = None) -> None:
        self.config, self.address, self.archive_limits = config, ray_address, archive_limits
        self._idle: queue.Queue[Any] = queue.Queue()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._cls: Any = None

    # ---- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        import ray

        from auditor.runtime.executors import ray_init

        ray_init(self.address)
        self._cls = ray.remote(**ACTOR_OPTIONS)(AuditActor)
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus < self.config.size:
            log.warning("the Ray cluster has %g CPUs for %d audit actors (one each): the others wait for a CPU",
                        cpus, self.config.size)
        for _ in range(self.config.size):
            self._idle.put(self._new())
        threading.Thread(target=self._announce, name="audit-actors-ready", daemon=True).start()

    def close(self) -> None:
        """Each actor stops its worker and removes its folders (for up to CLOSE_WAIT_S), then is killed."""
        import ray

        self._closed.set()
        actors = self.actors()
        refs = [a.close.remote() for a in actors]
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=CLOSE_WAIT_S)
        for actor in actors:
            self._drop(actor)

    def actors(self) -> list[Any]:
        with self._lock:
            return list(self._all)

    def infos(self, timeout: float = INFO_WAIT_S) -> list[dict]:
        """`AuditActor.info()` of each live actor that answers within `timeout` (a new one answers
        once Ray placed and started it)."""
        import ray

        refs = [a.info.remote() for a in self.actors()]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout) if refs else ([], [])
        found = []
        for ref in done:
            with contextlib.suppress(ray.exceptions.RayError):   # died: replaced when an audit next asks it
                found.append(ray.get(ref))
        return found

    def ready(self) -> int:
        """The actors whose worker is warm (idle or busy)."""
        return sum(i["ready"] for i in self.infos())

    def nodes(self) -> list[str]:
        """The ids of the nodes the actors that answered are on."""
        return sorted({i["node"] for i in self.infos()})

    # ---- one audit ------------------------------------------------------------------------
    def run(self, root: str | Path | BytecodeTarget, options: AuditOptions, budget_s: float,
            memory_mb: int = 0) -> Report:
        """The report of auditing `root` on an actor; raises what `WarmPool.run` raises: AuditTimeout,
        AuditMemoryExceeded, AuditCrashed (the actor died too), TargetError, AuditorError."""
        import ray

        payload = root if isinstance(root, BytecodeTarget) else pack(Path(root))
        options = replace(options, progress=None)       # a callback could not reach this process
        actor = self._take()
        ref = actor.audit.remote(payload, options, budget_s, memory_mb)
        # A new worker may still be warming up in the actor: that wait is not the audit's budget.
        try:
            kind, text = ray.get(ref, timeout=budget_s + READY_TIMEOUT_S + RAY_GRACE_S)
        except ray.exceptions.GetTimeoutError:
            self._replace(actor)
            raise AuditTimeout(f"the audit ran past its budget of {budget_s:g} s") from None
        except ray.exceptions.RayError as exc:      # the actor died (node lost, killed, out of memory)
            self._replace(actor)
            raise AuditCrashed(f"the audit actor died ({type(exc).__name__})") from None
        self._idle.put(actor)
        if kind == "ok":
            return Report.model_validate_json(text)
        raise _ERRORS.get(kind, AuditorError)(text)

    def _take(self) -> Any:
        """An idle actor that answers; one found dead is replaced and the next one asked."""
        import ray

        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self._closed.is_set():
                raise AuditCrashed("the audit actors were closed")
            try:
                actor = self._idle.get(timeout=1.0)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise AuditCrashed("no audit actor became available") from None
                continue
            try:
                ray.get(actor.info.remote(), timeout=max(1.0, deadline - time.monotonic()))
                return actor
            except ray.exceptions.GetTimeoutError:
                self._idle.put(actor)              # not placed yet: the cluster has no free CPU for it
                raise AuditCrashed(f"no audit actor was started on the Ray cluster within {READY_TIMEOUT_S:g} s "
                                   "(each needs a free CPU)") from None
            except ray.exceptions.RayError:
                log.warning("an idle audit actor is dead; starting another")
                self._replace(actor)

    # ---- starting and stopping actors -----------------------------------------------------
    def _new(self) -> Any:
        actor = self._cls.options(scheduling_strategy="SPREAD").remote(self.config, self.archive_limits)
        with self._lock:
            self._all.append(actor)
        return actor

    def _replace(self, actor: Any) -> None:
        self._drop(actor)
        if not self._closed.is_set():
            self._idle.put(self._new())

    def _drop(self, actor: Any) -> None:
        import ray

        with self._lock:
            if actor in self._all:
                self._all.remove(actor)
        try:
            ray.kill(actor, no_restart=True)
        except Exception:          # already dead
            log.debug("killing a dead audit actor", exc_info=True)

    def _announce(self) -> None:
        """Log once every actor's worker is warm (or why not, after READY_TIMEOUT_S)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._closed.wait(1.0):
            infos = self.infos()
            warm = sum(i["ready"] for i in infos)
            if warm >= self.config.size:
                log.info("audit actors ready: %d warm on %d Ray node(s)", warm, len({i["node"] for i in infos}))
                return
            if time.monotonic() > deadline:
                errors = sorted({i["error"] for i in infos if i["error"]})
                log.warning("audit actors: %d of %d warm after %g s (%d started)%s", warm, self.config.size,
                            READY_TIMEOUT_S, len(infos), f": {'; '.join(errors)}" if errors else "")
                return
