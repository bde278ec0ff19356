"""deliver: GENERATED -> SUBMITTED (sign, simulate, send), then wake `confirm`.

The oracle's protocol lives here, not in the wallet's tx manager: the EIP-712 answer, the
`fulfill` / `fulfillBatch` calls, and which simulated outcomes mean "no transaction needed".
Answers that are ready together leave together in one `fulfillBatch` transaction, so
throughput grows with the load instead of being one transaction round trip per request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from oracle.chain.contracts import FulfillOutcome
from oracle.chain.errors import FeeCapError, SimulationError, TxRejected, TxSkipped
from oracle.chain.retry import is_transient
from oracle.chain.signer import AuditResult
from oracle.chain.txmanager import TxManager
from oracle.store import Job, JobState
from oracle.tasks.base import Parts, Task

log = logging.getLogger(__name__)

# Fulfilment outcomes that mean "no transaction needed" (the call would not revert, just do nothing).
FULFILL_NOT_NEEDED = frozenset({FulfillOutcome.ALREADY_FINALIZED, FulfillOutcome.NOT_OPEN,
                                FulfillOutcome.DUPLICATE_SIGNER})


def fulfill_not_needed(result: Any) -> bool:
    """`skip_if` for a `fulfill` call: True when the simulated outcome says sending is pointless."""
    return FulfillOutcome(int(result)) in FULFILL_NOT_NEEDED


def simulate_fulfill(txm: TxManager, fn) -> FulfillOutcome:
    """The outcome a `fulfill` call would have now (no transaction): FINALIZED/RECORDED mean send
    it; ALREADY_FINALIZED/NOT_OPEN/DUPLICATE_SIGNER mean no transaction is needed."""
    return FulfillOutcome(int(txm.simulate(fn)))


class Answers:
    """A job's signed answer, as the `fulfill` / `fulfillBatch` calls take it."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def result(self, job: Job) -> AuditResult:
        return AuditResult(bytes.fromhex(job.request_id[2:]), bytes.fromhex(job.output_hash[2:]),
                           bytes.fromhex(job.model_hash[2:]), job.status_code, job.high, job.medium)

    def item(self, job: Job) -> tuple[tuple, bytes]:
        """(result, signature) of a job."""
        result = self.result(job)
        return result.as_tuple(), self.parts.signer.sign(self.parts.domain, result)

    def fulfill(self, job: Job):
        return self.parts.oracle.contract.functions.fulfill(*self.item(job))

    def call(self, jobs: list[Job]):
        """The call that answers `jobs`: `fulfill` for one, `fulfillBatch` for several."""
        if len(jobs) == 1:
            return self.fulfill(jobs[0])
        return self.parts.oracle.contract.functions.fulfillBatch([self.item(j) for j in jobs])


class DeliverTask(Task):
    name = "deliver"

    def __init__(self, parts: Parts, interval: float) -> None:
        super().__init__(parts, interval)
        self.answers = Answers(parts)
        self.on_sent: Callable[[], None] = lambda: None

    def run(self) -> None:
        store = self.parts.store
        if not store.in_state(JobState.GENERATED, limit=1):
            return
        # Whoever holds the lock sends every answer that is ready, in one fulfillBatch.
        with self.parts.deliver_lock:
            jobs = store.in_state(JobState.GENERATED, limit=self.parts.settings.max_batch)
            if len(jobs) <= 1:
                for job in jobs:
                    self.deliver(job)
            else:
                self.deliver_batch(jobs)
        self.on_sent()

    def deliver_batch(self, jobs: list[Job]) -> None:
        store, tx = self.parts.store, self.parts.tx
        items = [self.answers.item(job) for job in jobs]
        batch = self.parts.oracle.contract.functions.fulfillBatch
        try:
            outcomes = tx.rpc("eth_call", lambda: batch(items).call({"from": tx.address}))
        except Exception as exc:
            if is_transient(exc):
                raise
            for job in jobs:  # one bad item reverts a batch: fall back to one at a time to isolate it
                self.deliver(job)
            return
        keep = []
        for job, item, outcome in zip(jobs, items, outcomes, strict=True):
            outcome = FulfillOutcome(outcome)
            if outcome == FulfillOutcome.NOT_OPEN:
                store.expired(job.request_id, "request is no longer open")
            elif outcome in (FulfillOutcome.ALREADY_FINALIZED, FulfillOutcome.DUPLICATE_SIGNER):
                store.confirmed(job.request_id, None, reason=f"no transaction needed: {outcome.name.lower()}")
            else:
                keep.append((job, item))
        if not keep:
            return
        ids = [job.request_id for job, _ in keep]

        def on_signed(tx_hash, nonce, raw) -> None:
            store.submitted(ids, tx_hash, nonce, raw)
            log.info("requests %s: answers signed, submitting fulfillBatch tx %s", ", ".join(ids), tx_hash)

        try:
            tx.send(batch([item for _, item in keep]), on_signed=on_signed)
        except SimulationError:
            for job, _ in keep:
                self.deliver(job)
        except (TxRejected, FeeCapError) as exc:
            for i in ids:
                store.back_to(i, JobState.GENERATED, reason=f"{type(exc).__name__}: {exc}"[:300])

    def deliver(self, job: Job) -> None:
        store = self.parts.store

        def on_signed(tx_hash, nonce, raw) -> None:
            store.submitted(job.request_id, tx_hash, nonce, raw)
            log.info("request %s: answer signed, submitting tx %s", job.request_id, tx_hash)

        try:
            # Simulated first: a request already finalized (other nodes), closed, or carrying our
            # vote is settled without sending anything, so no transaction reverts as a duplicate.
            self.parts.tx.send(self.answers.fulfill(job), on_signed=on_signed, skip_if=fulfill_not_needed)
        except TxSkipped as skipped:
            outcome = FulfillOutcome(skipped.result)
            if outcome == FulfillOutcome.NOT_OPEN:
                store.expired(job.request_id, "request is no longer open")
            else:
                store.confirmed(job.request_id, None, reason=f"no transaction needed: {outcome.name.lower()}")
        except SimulationError as exc:
            store.failed(job.request_id, str(exc)[:500])
            self.parts.metrics.failed()
        except (TxRejected, FeeCapError) as exc:
            # Nothing of ours is on the network: deliver again on a later tick.
            store.back_to(job.request_id, JobState.GENERATED, reason=f"{type(exc).__name__}: {exc}"[:300])
