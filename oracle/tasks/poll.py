"""poll: confirmed request events -> RECEIVED jobs (the listener), then wake `process`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from oracle.listener import Listener
from oracle.store import JobState
from oracle.tasks.base import Parts, Task

log = logging.getLogger(__name__)


class PollTask(Task):
    name = "poll"

    def __init__(self, parts: Parts, interval: float, listener: Listener) -> None:
        super().__init__(parts, interval)
        self.listener = listener
        self.on_received: Callable[[], None] = lambda: None

    def run(self) -> None:
        since = time.time()
        added = self.listener.poll()
        self.parts.metrics.seen(added)
        self.parts.metrics.polled()
        if added:
            self._log_received(since)
            self.on_received()

    def _log_received(self, since: float) -> None:
        for job in self.parts.store.in_state(JobState.RECEIVED):
            if job.received_at >= since:
                log.info("request %s received: %s audit from %s, block %d, transaction %s", job.request_id,
                         job.kind, job.requester, job.block_number, job.tx_hash)
