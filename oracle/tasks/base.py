"""The task model: what the tasks share (`Parts`) and the `Task` base every task derives from.

A task's `run()` is one pass over the store; `tick()` runs it guarded (an RPC outage or a bad job
is logged, recorded for `/healthz`, and retried on the next tick) and never twice at once: a
tick, or a `wake()`, arriving while a pass runs makes that pass run once more instead. The
scheduler calls `tick()` every `interval` seconds; `wake()` asks for a pass now (`trigger`, set
by the daemon, submits `tick` to the scheduler; unset, `wake` runs the pass in the caller).
The store holds the truth, so a crash at any point resumes where it stopped (`recover`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from web3 import Web3

from oracle.chain.contracts import AuditOracleClient, RequestState
from oracle.chain.retry import RetryingRpc, is_transient
from oracle.chain.signer import ResultSigner
from oracle.chain.txmanager import TxManager
from oracle.config import OracleSettings
from oracle.metrics import Metrics
from oracle.store import Job, JobStore

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """The node's shared pieces, built once by `daemon.build_node`."""

    settings: OracleSettings
    w3: Web3
    rpc: RetryingRpc
    oracle: AuditOracleClient
    store: JobStore
    tx: TxManager
    signer: ResultSigner
    metrics: Metrics
    # One delivery at a time: deliver and confirm never both act on the same job's transaction.
    deliver_lock: threading.Lock = field(default_factory=threading.Lock)
    _domain: object = None

    @property
    def domain(self):
        if self._domain is None:
            self._domain = self.oracle.domain()
        return self._domain

    def chain_state(self, job: Job) -> RequestState:
        return self.rpc("getRequest", lambda: self.oracle.get_request(bytes.fromhex(job.request_id[2:]))).state


class Task:
    name: ClassVar[str] = "task"

    def __init__(self, parts: Parts, interval: float) -> None:
        self.parts = parts
        self.interval = interval
        self.trigger: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def setup(self) -> None:
        """Before the first tick (acquire what `run` needs)."""

    def run(self) -> None:
        """One pass."""
        raise NotImplementedError

    def stop(self) -> None:
        """After the last tick (release what `setup` acquired)."""

    def wake(self) -> None:
        if self.trigger is not None:
            self.trigger()
        else:
            self.tick()

    def tick(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        try:
            while True:
                self._guarded()
                with self._lock:
                    if not self._again:
                        return
                    self._again = False
        finally:
            with self._lock:
                self._running = False

    def _guarded(self) -> None:
        metrics = self.parts.metrics
        try:
            self.run()
        except Exception as exc:
            if is_transient(exc):
                log.warning("%s: RPC unavailable (%s); retrying on the next tick", self.name, type(exc).__name__)
            else:
                log.exception("%s failed; retrying on the next tick", self.name)
            metrics.unhealthy(self.name, str(exc))
        else:
            metrics.healthy(self.name)
