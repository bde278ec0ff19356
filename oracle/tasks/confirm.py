"""confirm: SUBMITTED -> CONFIRMED (receipts), bumping the fees of stuck transactions, re-
broadcasting dropped ones, and sending again (via GENERATED) when the nonce went elsewhere or the
transaction reverted while the request is still open. One transaction may carry a whole batch:
each transaction is checked once for all the jobs it answers."""

from __future__ import annotations

import logging
import time

from oracle.chain.contracts import RequestState
from oracle.chain.errors import NonceConsumed
from oracle.chain.sent import SentTx, TxStatus
from oracle.store import Job, JobState
from oracle.tasks.base import Parts, Task
from oracle.tasks.deliver import Answers

log = logging.getLogger(__name__)


class ConfirmTask(Task):
    name = "confirm"

    def __init__(self, parts: Parts, interval: float, answers: Answers) -> None:
        super().__init__(parts, interval)
        self.answers = answers

    def recover(self) -> int:
        """After a crash: resync the nonce; re-broadcast, byte for byte (same hash, so never a
        second transaction), the signed transactions the chain forgot; returns how many."""
        store, tx = self.parts.store, self.parts.tx
        rebroadcast = 0
        tx.resync()
        for job in store.in_state(JobState.SUBMITTED):
            status = tx.status(job.raw_tx)
            if status == TxStatus.DROPPED:
                tx.rebroadcast(job.raw_tx)
                rebroadcast += 1
            elif status == TxStatus.REPLACED:
                store.back_to(job.request_id, JobState.GENERATED, reason="nonce taken while the node was down")
        return rebroadcast

    def run(self) -> None:
        store = self.parts.store
        groups: dict[str, list[str]] = {}
        for job in store.in_state(JobState.SUBMITTED):
            groups.setdefault(job.submit_tx, []).append(job.request_id)
        for tx_hash, ids in groups.items():
            with self.parts.deliver_lock:
                current = [j for j in map(store.get, ids)
                           if j is not None and j.state == JobState.SUBMITTED and j.submit_tx == tx_hash]
                if current:
                    self.confirm(current)

    def confirm(self, jobs: list[Job]) -> None:
        """Follow one submitted transaction, which answers `jobs` (one, or a fulfillBatch)."""
        store, tx = self.parts.store, self.parts.tx
        first = jobs[0]
        ids = [j.request_id for j in jobs]
        status = tx.status(first.raw_tx)
        if status == TxStatus.PENDING:
            if time.time() - first.updated_at > self.parts.settings.stuck_after_s:
                try:
                    tx.bump(first.raw_tx, self.answers.call(jobs), on_signed=lambda tx_hash, nonce, raw:
                            store.submitted(ids, tx_hash, nonce, raw))
                except NonceConsumed:
                    return  # mined meanwhile: the next tick sees the receipt
            return
        if status == TxStatus.DROPPED:
            tx.rebroadcast(first.raw_tx)
            return
        if status == TxStatus.REPLACED:
            # Another transaction took our nonce: send again (simulated first, so never twice).
            for i in ids:
                store.back_to(i, JobState.GENERATED, reason="nonce taken by another transaction")
            return
        receipt = tx.mined_receipt(SentTx.from_raw(first.raw_tx))
        if receipt is None:
            return
        for job in jobs:
            if receipt["status"] == 1:
                store.confirmed(job.request_id, receipt["blockNumber"])
                self.parts.metrics.answered(job)
                log.info("request %s confirmed: transaction %s in block %d", job.request_id, job.submit_tx,
                         receipt["blockNumber"])
                continue
            # Reverted: find out why from the chain rather than guessing.
            state = self.parts.chain_state(job)
            if state == RequestState.FINALIZED:
                store.confirmed(job.request_id, receipt["blockNumber"], reason="finalized by other nodes")
            elif state == RequestState.CANCELLED:
                store.expired(job.request_id, "cancelled before our answer landed")
            else:
                store.back_to(job.request_id, JobState.GENERATED, reason="transaction reverted; resending")
