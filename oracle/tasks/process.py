"""process: RECEIVED -> RUNNING -> GENERATED (the audit runs in a worker thread; the output is
stored by hash), then wake `deliver`. Audit workers never wait for transactions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from oracle.chain.contracts import RequestState
from oracle.inputs import ResultStatus
from oracle.processor import process
from oracle.store import JobState
from oracle.tasks.base import Parts, Task

log = logging.getLogger(__name__)


class ProcessTask(Task):
    name = "process"

    def __init__(self, parts: Parts, interval: float, audit_fn=None) -> None:
        super().__init__(parts, interval)
        self.audit_fn = audit_fn
        self.on_generated: Callable[[], None] = lambda: None
        self._workers: ThreadPoolExecutor | None = None
        self.runner = None            # the audit runner (auditor/runtime/runners.py), shared by the workers
        self._inflight: set[str] = set()
        self._inflight_lock = threading.Lock()

    def setup(self) -> None:
        settings = self.parts.settings
        self._workers = ThreadPoolExecutor(settings.workers, thread_name_prefix="audit")
        if self.audit_fn is None and settings.auditor == "solsentry":
            from oracle.processor import make_runner

            self.runner = make_runner(settings)
            self.runner.start()
            log.info("audits run in %d %s worker(s), executor %s", settings.workers, settings.audit_isolation,
                     settings.audit_executor)

    def stop(self) -> None:
        if self._workers is not None:
            self._workers.shutdown(wait=False, cancel_futures=True)
        if self.runner is not None:
            self.runner.close()

    def run(self) -> None:
        workers = self.parts.settings.workers
        for job in self.parts.store.in_state(JobState.RECEIVED, limit=workers * 4):
            with self._inflight_lock:
                if job.request_id in self._inflight or len(self._inflight) >= workers:
                    continue
                self._inflight.add(job.request_id)
            self._workers.submit(self._work, job.request_id)

    def _work(self, request_id: str) -> None:
        store, settings = self.parts.store, self.parts.settings
        try:
            job = store.claim(request_id)
            if job is None:
                return
            state = self.parts.chain_state(job)
            if state != RequestState.OPEN:
                # Cancelled, already finalized by other nodes, or removed by a reorg.
                store.expired(job.request_id, f"request is {state.name.lower()} on chain")
                return
            answer = process(job, self.parts.w3, settings, audit_fn=self.audit_fn, runner=self.runner)
            store.generated(job.request_id, answer.output, "0x" + answer.output_hash.hex(),
                            "0x" + answer.model_hash.hex(), answer.status, answer.high, answer.medium)
            self.parts.metrics.generated(job, answer.status)
            log.info("request %s audited: %s, high %d, medium %d, output 0x%s", request_id,
                     ResultStatus(answer.status).name, answer.high, answer.medium, answer.output_hash.hex())
            self.on_generated()   # deliver now rather than on its next tick (latency)
        except Exception:
            log.exception("audit of %s failed; it will be retried", request_id)
            job = store.get(request_id)
            if job and job.state == JobState.RUNNING:
                if job.attempts >= settings.max_attempts:
                    store.failed(request_id, "audit failed repeatedly (see the node log)")
                else:
                    store.back_to(request_id, JobState.RECEIVED)
        finally:
            with self._inflight_lock:
                self._inflight.discard(request_id)
            self.wake()           # a worker is free: take the next received job now, not on the next tick
