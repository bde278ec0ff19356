"""The oracle node: small tasks wired by hand, run by APScheduler.

poll     listener: confirmed request events -> RECEIVED jobs
process  RECEIVED -> RUNNING -> GENERATED (audit in a worker thread; output stored by hash)
deliver  GENERATED -> SUBMITTED (sign, simulate, send) and SUBMITTED -> CONFIRMED (receipts, fee bumps)
expire   jobs whose request was cancelled or whose deadline passed without an answer
prune    forget finished jobs after the retention period (outputs are kept)

Each task catches its own errors (an RPC outage, a bad job) and is retried on its next tick;
the store holds the truth, so a crash at any point resumes where it stopped (`recover`).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from web3 import Web3

from oracle.chain.contracts import AuditOracleClient, FulfillOutcome, RequestState
from oracle.chain.deploy import Deployment
from oracle.chain.rpc import web3_for
from oracle.chain.signer import AuditResult, ResultSigner
from oracle.chain.txmanager import (
    FeeCapError,
    NonceConsumed,
    SentTx,
    SimulationError,
    TxManager,
    TxRejected,
    TxSkipped,
    TxStatus,
    fulfill_not_needed,
    is_transient,
)
from oracle.config import OracleSettings
from oracle.inputs import ResultStatus
from oracle.listener import Listener, ListenerConfig
from oracle.metrics import Metrics
from oracle.processor import process
from oracle.store import Job, JobState, JobStore

log = logging.getLogger(__name__)


class OracleNode:
    def __init__(self, settings: OracleSettings, deployment: Deployment, account, w3: Web3 | None = None,
                 audit_fn=None) -> None:
        self.settings = settings
        self.w3 = w3 or web3_for(deployment.rpc_url)
        self.oracle = AuditOracleClient(self.w3, deployment.audit_oracle)
        self.store = JobStore(settings.db_path)
        self.listener = Listener(self.oracle, self.store, ListenerConfig(
            confirmations=settings.confirmations, max_range=settings.max_block_range,
            start_block=deployment.block))
        self.signer = ResultSigner(account.key)
        self.tx = TxManager(self.w3, account, settings)
        self.metrics = Metrics(self.store)
        self.audit_fn = audit_fn
        self._workers = ThreadPoolExecutor(settings.workers, thread_name_prefix="audit")
        self._inflight: set[str] = set()
        self._lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._deliver_now = threading.Event()
        self._domain = None

    @property
    def domain(self):
        if self._domain is None:
            self._domain = self.oracle.domain()
        return self._domain

    # ---- start-up ---------------------------------------------------------------------
    def recover(self) -> dict:
        """Resume after a crash: unfinished audits go back to RECEIVED; signed transactions whose
        receipt is unknown are re-broadcast byte for byte (same hash, so never a second tx)."""
        reset = self.store.recover()
        rebroadcast = 0
        self.tx.resync()
        for job in self.store.in_state(JobState.SUBMITTED):
            status = self.tx.status(job.raw_tx)
            if status == TxStatus.DROPPED:
                self.tx.rebroadcast(job.raw_tx)
                rebroadcast += 1
            elif status == TxStatus.REPLACED:
                self.store.back_to(job.request_id, JobState.GENERATED, reason="nonce taken while the node was down")
        log.info("recovered: %d audit(s) restarted, %d transaction(s) re-broadcast", reset, rebroadcast)
        return {"restarted": reset, "rebroadcast": rebroadcast}

    # ---- tasks ------------------------------------------------------------------------
    def tick_poll(self) -> None:
        added = 0
        with self._guard("poll"):
            since = time.time()
            added = self.listener.poll()
            self.metrics.seen(added)
            self.metrics.polled()
            if added:
                self._log_received(since)
        if added:
            self.tick_process()

    def tick_process(self) -> None:
        with self._guard("process"):
            for job in self.store.in_state(JobState.RECEIVED, limit=self.settings.workers * 4):
                with self._lock:
                    if job.request_id in self._inflight or len(self._inflight) >= self.settings.workers:
                        continue
                    self._inflight.add(job.request_id)
                self._workers.submit(self._work, job.request_id)

    def _work(self, request_id: str) -> None:
        try:
            job = self.store.claim(request_id)
            if job is None:
                return
            state = self._chain_state(job)
            if state != RequestState.OPEN:
                # Cancelled, already finalized by other nodes, or removed by a reorg.
                self.store.expired(job.request_id, f"request is {state.name.lower()} on chain")
                return
            answer = process(job, self.w3, self.settings, audit_fn=self.audit_fn)
            self.store.generated(job.request_id, answer.output, "0x" + answer.output_hash.hex(),
                                 "0x" + answer.model_hash.hex(), answer.status, answer.high, answer.medium)
            self.metrics.generated(job, answer.status)
            log.info("request %s audited: %s, high %d, medium %d, output 0x%s", request_id,
                     ResultStatus(answer.status).name, answer.high, answer.medium, answer.output_hash.hex())
            # Wake the delivery thread now rather than on its next tick (latency).
            self._deliver_now.set()
        except Exception:
            log.exception("audit of %s failed; it will be retried", request_id)
            job = self.store.get(request_id)
            if job and job.state == JobState.RUNNING:
                if job.attempts >= self.settings.max_attempts:
                    self.store.failed(request_id, "audit failed repeatedly (see the node log)")
                else:
                    self.store.back_to(request_id, JobState.RECEIVED)
        finally:
            with self._lock:
                self._inflight.discard(request_id)

    def delivery_loop(self, stop: threading.Event, interval: float) -> None:
        """One thread sends and confirms answers: audit workers never wait for transactions,
        and answers that are ready together leave together (fulfillBatch)."""
        while not stop.is_set():
            self._deliver_now.wait(interval)
            self._deliver_now.clear()
            self.tick_deliver()

    def tick_deliver(self) -> None:
        with self._guard("deliver"):
            if self.store.in_state(JobState.GENERATED, limit=1):
                self._deliver_ready()
            # One transaction may carry a whole batch: check each transaction once.
            groups: dict[str, list[str]] = {}
            for job in self.store.in_state(JobState.SUBMITTED):
                groups.setdefault(job.submit_tx, []).append(job.request_id)
            for tx_hash, ids in groups.items():
                with self._deliver_lock:
                    current = [j for j in map(self.store.get, ids)
                               if j is not None and j.state == JobState.SUBMITTED and j.submit_tx == tx_hash]
                    if current:
                        self._confirm(current)

    def _deliver_ready(self) -> None:
        # One delivery at a time: the worker that finished an audit and the deliver tick must
        # never both send an answer for the same job. Whoever holds the lock sends every answer
        # that is ready, in one fulfillBatch transaction: throughput then grows with the load
        # instead of being one transaction round trip per request.
        with self._deliver_lock:
            jobs = self.store.in_state(JobState.GENERATED, limit=self.settings.max_batch)
            if len(jobs) <= 1:
                for job in jobs:
                    self._deliver(job)
                return
            self._deliver_batch(jobs)

    def _deliver_batch(self, jobs: list[Job]) -> None:
        items = [self._item(job) for job in jobs]
        try:
            outcomes = self.oracle.contract.functions.fulfillBatch(items).call({"from": self.tx.address})
        except Exception as exc:
            if is_transient(exc):
                raise
            for job in jobs:  # one bad item reverts a batch: fall back to one at a time to isolate it
                self._deliver(job)
            return
        keep = []
        for job, item, outcome in zip(jobs, items, outcomes, strict=True):
            outcome = FulfillOutcome(outcome)
            if outcome == FulfillOutcome.NOT_OPEN:
                self.store.expired(job.request_id, "request is no longer open")
            elif outcome in (FulfillOutcome.ALREADY_FINALIZED, FulfillOutcome.DUPLICATE_SIGNER):
                self.store.confirmed(job.request_id, None, reason=f"no transaction needed: {outcome.name.lower()}")
            else:
                keep.append((job, item))
        if not keep:
            return
        ids = [job.request_id for job, _ in keep]
        fn = self.oracle.contract.functions.fulfillBatch([item for _, item in keep])
        def on_signed(tx_hash, nonce, raw) -> None:
            self.store.submitted(ids, tx_hash, nonce, raw)
            log.info("requests %s: answers signed, submitting fulfillBatch tx %s", ", ".join(ids), tx_hash)

        try:
            self.tx.send(fn, on_signed=on_signed)
        except SimulationError:
            for job, _ in keep:
                self._deliver(job)
        except (TxRejected, FeeCapError) as exc:
            for i in ids:
                self.store.back_to(i, JobState.GENERATED, reason=f"{type(exc).__name__}: {exc}"[:300])

    def _result(self, job: Job) -> AuditResult:
        return AuditResult(bytes.fromhex(job.request_id[2:]), bytes.fromhex(job.output_hash[2:]),
                           bytes.fromhex(job.model_hash[2:]), job.status_code, job.high, job.medium)

    def _item(self, job: Job) -> tuple[tuple, bytes]:
        """(result, signature) of a job, as fulfill and fulfillBatch take them."""
        result = self._result(job)
        return result.as_tuple(), self.signer.sign(self.domain, result)

    def _fulfil_call(self, job: Job):
        return self.oracle.contract.functions.fulfill(*self._item(job))

    def _on_signed(self, job: Job):
        def on_signed(tx_hash, nonce, raw) -> None:
            self.store.submitted(job.request_id, tx_hash, nonce, raw)
            log.info("request %s: answer signed, submitting tx %s", job.request_id, tx_hash)

        return on_signed

    def _deliver(self, job: Job) -> None:
        fn = self._fulfil_call(job)
        try:
            # Simulated first: a request already finalized (other nodes), closed, or carrying our
            # vote is settled without sending anything, so no transaction reverts as a duplicate.
            self.tx.send(fn, on_signed=self._on_signed(job), skip_if=fulfill_not_needed)
        except TxSkipped as skipped:
            outcome = FulfillOutcome(skipped.result)
            if outcome == FulfillOutcome.NOT_OPEN:
                self.store.expired(job.request_id, "request is no longer open")
            else:
                self.store.confirmed(job.request_id, None, reason=f"no transaction needed: {outcome.name.lower()}")
        except SimulationError as exc:
            self.store.failed(job.request_id, str(exc)[:500])
            self.metrics.failed()
        except (TxRejected, FeeCapError) as exc:
            # Nothing of ours is on the network: deliver again on a later tick.
            self.store.back_to(job.request_id, JobState.GENERATED, reason=f"{type(exc).__name__}: {exc}"[:300])

    def _confirm(self, jobs: list[Job]) -> None:
        """Follow one submitted transaction, which answers `jobs` (one, or a fulfillBatch)."""
        first = jobs[0]
        ids = [j.request_id for j in jobs]
        status = self.tx.status(first.raw_tx)
        if status == TxStatus.PENDING:
            if time.time() - first.updated_at > self.settings.stuck_after_s:
                try:
                    self.tx.bump(first.raw_tx, self._answer_call(jobs), on_signed=lambda tx_hash, nonce, raw:
                                 self.store.submitted(ids, tx_hash, nonce, raw))
                except NonceConsumed:
                    return  # mined meanwhile: the next tick sees the receipt
            return
        if status == TxStatus.DROPPED:
            self.tx.rebroadcast(first.raw_tx)
            return
        if status == TxStatus.REPLACED:
            # Another transaction took our nonce: send again (simulated first, so never twice).
            for i in ids:
                self.store.back_to(i, JobState.GENERATED, reason="nonce taken by another transaction")
            return
        receipt = self.tx.mined_receipt(SentTx.from_raw(first.raw_tx))
        if receipt is None:
            return
        for job in jobs:
            if receipt["status"] == 1:
                self.store.confirmed(job.request_id, receipt["blockNumber"])
                self.metrics.answered(job)
                log.info("request %s confirmed: transaction %s in block %d", job.request_id, job.submit_tx,
                         receipt["blockNumber"])
                continue
            # Reverted: find out why from the chain rather than guessing.
            state = self._chain_state(job)
            if state == RequestState.FINALIZED:
                self.store.confirmed(job.request_id, receipt["blockNumber"], reason="finalized by other nodes")
            elif state == RequestState.CANCELLED:
                self.store.expired(job.request_id, "cancelled before our answer landed")
            else:
                self.store.back_to(job.request_id, JobState.GENERATED, reason="transaction reverted; resending")

    def _answer_call(self, jobs: list[Job]):
        if len(jobs) == 1:
            return self._fulfil_call(jobs[0])
        return self.oracle.contract.functions.fulfillBatch([self._item(j) for j in jobs])

    def tick_expire(self) -> None:
        with self._guard("expire"):
            latest = self.w3.eth.get_block("latest")
            now = latest["timestamp"]
            for job in self.store.in_state(JobState.RECEIVED, JobState.GENERATED):
                if job.deadline < now and self._chain_state(job) != RequestState.OPEN:
                    self.store.expired(job.request_id, "past the deadline and no longer open")
            self.metrics.balance(self.tx.balance())
            self.metrics.warn_stale(self.store, latest["number"], self.settings.open_warning_blocks)

    def tick_prune(self) -> None:
        with self._guard("prune"):
            self.store.prune(self.settings.retention_s)

    # ---- helpers ----------------------------------------------------------------------
    def _log_received(self, since: float) -> None:
        for job in self.store.in_state(JobState.RECEIVED):
            if job.received_at >= since:
                log.info("request %s received: %s audit from %s, block %d, transaction %s", job.request_id,
                         job.kind, job.requester, job.block_number, job.tx_hash)

    def _chain_state(self, job: Job) -> RequestState:
        return self.oracle.get_request(bytes.fromhex(job.request_id[2:])).state

    def _guard(self, task: str):
        node = self

        class Guard:
            def __enter__(self) -> None:
                return None

            def __exit__(self, exc_type, exc, tb) -> bool:
                if exc is None:
                    node.metrics.healthy(task)
                    return False
                if is_transient(exc):
                    log.warning("%s: RPC unavailable (%s); retrying on the next tick", task, type(exc).__name__)
                else:
                    log.exception("%s failed; retrying on the next tick", task)
                node.metrics.unhealthy(task, str(exc))
                return True

        return Guard()

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)
        self.store.close()

