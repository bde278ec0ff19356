"""A pool of warm audit workers: the API's and the oracle node's way to run audits without paying
for a fresh interpreter, Slither's imports and a compiler start-up on every one.

Each worker (`auditor.runtime.warm_worker`) is a "spawn" child holding the pipeline, the tools,
resident compilers and, when asked, the review model, and it runs one audit at a time. Isolation
is the fresh child's (`auditor.runtime.isolated`), per audit:

- its own working directory (cwd and TMPDIR), made by the pool and removed after the audit,
  whatever became of the worker; the sandbox rules come with the audit's options (`hosted`);
- the time budget and the cap on the resident memory of the worker's whole process tree
  (`auditor.runtime.limits`): past either the tree is killed, the audit fails with the typed
  error the fresh child gives, and a new worker takes the dead one's place. A worker that
  crashed or was killed from outside is replaced the same way: none is ever reused after a
  failure it did not answer;
- recycling: a worker is retired after `max_audits` audits or once its tree has grown by
  `max_growth_mb` over its size when it became ready.

Workers die with the pool's process (`auditor.runtime.children`) and are recorded in
`children_dir` while they live, for a restarted server's `kill_leftovers`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import AuditorError, TargetError
from auditor.options import AuditOptions
from auditor.report.model import Report
from auditor.runtime import children, limits
from auditor.runtime.isolated import AuditCrashed, AuditMemoryExceeded, AuditTimeout
from auditor.targets.bytecode import BytecodeTarget

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 300.0        # a worker that is not warm by then is killed and started again
RETRY_S = (1.0, 5.0, 30.0)     # waits between failed starts in a row (the last one repeats)
KNOWN_VERSIONS = 3             # compiler versions a new worker loads at start: the most recently used


POOL_PREFIX = "solsentry-pool-"      # + the owner's pid: the audits' working directories


def _sweep() -> None:
    """Remove the pool folders of processes that are gone (a server killed with SIGKILL leaves its)."""
    import psutil

    for path in Path(tempfile.gettempdir()).glob(f"{POOL_PREFIX}*-*"):
        owner = path.name[len(POOL_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and not psutil.pid_exists(int(owner)):
            shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class PoolConfig:
    """How workers are kept: `size` at once, each retired after `max_audits` audits or `max_growth_mb`
    of growth (0: never); `review` ("embedded", or None) is loaded at start; `children_dir` records them."""

    size: int = 2
    max_audits: int = 500
    max_growth_mb: int = 512
    review: str | None = None
    children_dir: Path | None = None
    versions: tuple[str, ...] = ()          # compilers to load before the first audit


@dataclass
class _Worker:
    proc: Any
    conn: Any
    note: Path | None
    baseline_mb: float = 0.0
    audits: int = 0
    born: float = field(default_factory=time.monotonic)
    # close() and the thread that started a warming worker may both kill it at once: one does,
    # the other waits for that (two closes of its connection at once failed with EBADF in close()).
    killing: threading.Lock = field(default_factory=threading.Lock)
    killed: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid


class WarmPool:
    NAME = "warm"
    DESCRIPTION = "pre-started worker processes with the tools, compilers and review model loaded"

    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._live: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._versions: list[str] = list(config.versions)
        self._failures = 0
        self.last_error: str | None = None
        _sweep()
        self._work = Path(tempfile.mkdtemp(prefix=f"{POOL_PREFIX}{os.getpid()}-"))
        self.started = 0                   # workers started so far (replacements included)
        self._ready: set[int] = set()      # pids of the live workers that finished warming up
        self._announced = False
        # Held from the closed check before a worker's start to its entry in `_live`: close() takes
        # it, so a worker being started as the pool closes (a recycled or killed worker's successor)
        # is either never started or in `_live` and killed by close(), not left running after it.
        self._starting = threading.Lock()

    # ---- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        for _ in range(self.config.size):
            self._spawn_later()

    def close(self) -> None:
        self._closed.set()
        with self._starting, self._lock:        # after any start in progress (see `_starting`)
            workers = list(self._live.values())
            self._live.clear()
        for w in workers:
            self._kill(w)
        shutil.rmtree(self._work, ignore_errors=True)

    def ready(self) -> int:
        """How many workers are warm (idle or busy)."""
        with self._lock:       # one killed while idle is not warm, though only an audit replaces it
            return sum(1 for pid in self._ready if pid in self._live and self._live[pid].proc.is_alive())

    def pids(self) -> list[int]:
        """The live workers' process ids (ready or busy)."""
        with self._lock:
            return sorted(self._live)

    # ---- one audit ------------------------------------------------------------------------
    def run(self, root: str | Path | BytecodeTarget, options: AuditOptions, budget_s: float,
            memory_mb: int = 0) -> Report:
        """The report of auditing `root` in a warm worker; raises what `audit_isolated` raises:
        AuditTimeout, AuditMemoryExceeded, AuditCrashed, TargetError, AuditorError."""
        worker = self._take(budget_s)
        workdir = Path(tempfile.mkdtemp(prefix="audit-", dir=self._work))
        target = root if isinstance(root, BytecodeTarget) else str(Path(root).resolve())
        try:
            try:
                worker.conn.send(("audit", target, options, str(workdir)))
            except (OSError, ValueError):
                self._replace(worker)
                raise AuditCrashed("the audit worker died before the audit started") from None
            verdict = limits.watch(worker.pid, worker.conn.poll, budget_s, memory_mb)
            if verdict == "timeout":
                self._replace(worker)
                raise AuditTimeout(f"the audit ran past its budget of {budget_s:g} s")
            if verdict == "memory":
                self._replace(worker)
                raise AuditMemoryExceeded(f"the audit went over its memory limit of {memory_mb} MB")
            try:
                kind, payload = worker.conn.recv()
            except (EOFError, OSError):
                self._replace(worker)
                worker.proc.join(5)
                code = worker.proc.exitcode
                raise AuditCrashed(f"the audit worker died (exit code {code}; out of memory?)") from None
            worker.audits += 1
            self._give_back(worker)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if kind == "ok":
            report = Report.model_validate_json(payload)
            self._seen(report)
            return report
        if kind == "target":
            raise TargetError(payload)
        raise AuditorError(payload)

    def _take(self, budget_s: float) -> _Worker:
        deadline = time.monotonic() + max(budget_s, READY_TIMEOUT_S)
        while True:
            left = deadline - time.monotonic()
            if self._closed.is_set() or left <= 0:
                reason = f": {self.last_error}" if self.last_error else ""
                raise AuditCrashed(f"no audit worker became available{reason}")
            try:
                worker = self._idle.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if worker.proc.is_alive():
                return worker
            self._replace(worker)          # killed while idle (from outside)

    def _give_back(self, worker: _Worker) -> None:
        grown = limits.tree_rss_mb(worker.pid) - worker.baseline_mb
        cfg = self.config
        if (cfg.max_audits and worker.audits >= cfg.max_audits) or (cfg.max_growth_mb and grown > cfg.max_growth_mb):
            log.info("recycling audit worker %d after %d audits (%+.0f MB)", worker.pid, worker.audits, grown)
            self._replace(worker)
        else:
            self._idle.put(worker)

    def _seen(self, report: Report) -> None:
        """Remember the compiler versions audits use, for the workers started later."""
        for f in report.files:
            if f.solc and f.status == "compiled":
                with self._lock:
                    if f.solc in self._versions:
                        self._versions.remove(f.solc)
                    self._versions.insert(0, f.solc)
                    del self._versions[KNOWN_VERSIONS:]

    # ---- starting and stopping workers ----------------------------------------------------
    def _replace(self, worker: _Worker) -> None:
        self._kill(worker)
        self._spawn_later()

    def _kill(self, worker: _Worker) -> None:
        with self._lock:
            self._live.pop(worker.pid, None)
            self._ready.discard(worker.pid)
        with worker.killing:
            if worker.killed:
                return
            children.kill_tree(worker.pid)
            children.killpg(worker.pid)
            worker.proc.join(10)
            children.forget(worker.note)
            worker.conn.close()
            worker.killed = True

    def _spawn_later(self) -> None:
        if not self._closed.is_set():
            threading.Thread(target=self._spawn, name="audit-worker-start", daemon=True).start()

    def _spawn(self) -> None:
        from auditor.runtime.warm_worker import worker_main

        while not self._closed.is_set():
            with self._starting:
                if self._closed.is_set():      # closed since the check above: start nothing
                    return
                ours, theirs = self._ctx.Pipe(duplex=True)
                token = children.new_token()
                with self._lock:
                    versions = tuple(self._versions)
                proc = self._ctx.Process(target=worker_main, name="solsentry-audit-worker",
                                         args=(theirs, os.getpid(), token, versions, self.config.review))
                proc.start()
                theirs.close()
                worker = _Worker(proc, ours, None)
                if self.config.children_dir is not None:
                    worker.note = children.record(self.config.children_dir, proc.pid, token)
                with self._lock:
                    self._live[proc.pid] = worker
                    self.started += 1
            error = self._await_ready(worker)
            if error is None:
                worker.baseline_mb = limits.tree_rss_mb(proc.pid)
                self._failures = 0
                with self._lock:
                    self._ready.add(proc.pid)
                    announce = not self._announced and len(self._ready) >= self.config.size
                    self._announced = self._announced or announce
                if announce:
                    log.info("audit workers ready: %d warm", self.config.size)
                self._idle.put(worker)
                return
            self._kill(worker)
            self.last_error = error
            log.warning("an audit worker failed to start: %s", error)
            self._closed.wait(RETRY_S[min(self._failures, len(RETRY_S) - 1)])
            self._failures += 1

    def _await_ready(self, worker: _Worker) -> str | None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                if worker.conn.poll(0.5):
                    break
            except OSError:                # its end closed by close() (which killed it) in another thread
                return "the pool was closed"
            if self._closed.is_set():
                return "the pool was closed"
            if not worker.proc.is_alive():
                return f"it exited with code {worker.proc.exitcode} while warming up"
            if time.monotonic() > deadline:
                return f"not ready within {READY_TIMEOUT_S:g} s"
        try:
            kind, detail = worker.conn.recv()
        except (EOFError, OSError):
            return f"it exited with code {worker.proc.exitcode} while warming up"
        return None if kind == "ready" else str(detail)
