"""expire: jobs whose request was cancelled, or whose deadline passed without an answer; also
refreshes the wallet balance and pending-jobs gauges and warns about requests left open."""

from __future__ import annotations

from oracle.chain.contracts import RequestState
from oracle.store import JobState
from oracle.tasks.base import Task


class ExpireTask(Task):
    name = "expire"

    def run(self) -> None:
        parts = self.parts
        latest = parts.rpc("eth_getBlockByNumber", lambda: parts.w3.eth.get_block("latest"))
        now = latest["timestamp"]
        for job in parts.store.in_state(JobState.RECEIVED, JobState.GENERATED):
            if job.deadline < now and parts.chain_state(job) != RequestState.OPEN:
                parts.store.expired(job.request_id, "past the deadline and no longer open")
        parts.metrics.balance(parts.tx.balance())
        parts.metrics.warn_stale(parts.store, latest["number"], parts.settings.open_warning_blocks)
