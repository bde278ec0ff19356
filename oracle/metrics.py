"""Prometheus metrics and the health endpoint of a node (`/metrics`, `/healthz`)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from oracle.store import OPEN_STATES, Job, JobStore

log = logging.getLogger(__name__)


class Metrics:
    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests_seen = Counter("solsentry_oracle_requests_seen_total", "Request events read", registry=r)
        self.answers = Counter("solsentry_oracle_answers_total", "Results confirmed on chain", registry=r)
        self.failures = Counter("solsentry_oracle_failures_total", "Jobs that failed", registry=r)
        self.generated_by_status = Counter("solsentry_oracle_generated_total", "Audits finished, by status",
                                           ["status"], registry=r)
        self.latency = Histogram("solsentry_oracle_latency_seconds", "Request event received to answer confirmed",
                                 buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600), registry=r)
        self.pending = Gauge("solsentry_oracle_pending", "Jobs not finished", registry=r)
        self.wallet = Gauge("solsentry_oracle_wallet_balance_wei", "Balance of the node's wallet", registry=r)
        self.last_poll = Gauge("solsentry_oracle_last_poll_timestamp", "Unix time of the last good poll", registry=r)
        self._health: dict[str, str | None] = {}
        self.low_balance_wei = 10**16

    def seen(self, n: int) -> None:
        self.requests_seen.inc(n)

    def polled(self) -> None:
        self.last_poll.set(time.time())

    def generated(self, job: Job, status: int) -> None:
        self.generated_by_status.labels(str(status)).inc()

    def answered(self, job: Job) -> None:
        self.answers.inc()
        self.latency.observe(max(0.0, time.time() - job.received_at))

    def failed(self) -> None:
        self.failures.inc()

    def balance(self, wei: int) -> None:
        self.wallet.set(wei)
        if wei < self.low_balance_wei:
            log.warning("wallet balance low: %d wei; answers will stop when it cannot pay for gas", wei)

    def warn_stale(self, store: JobStore, head: int, open_warning_blocks: int) -> None:
        jobs = store.in_state(*OPEN_STATES)
        self.pending.set(len(jobs))
        for job in jobs:
            if head - job.block_number > open_warning_blocks:
                log.warning("request %s still unanswered %d blocks after it was made (state %s)", job.request_id,
                            head - job.block_number, job.state)

    def healthy(self, task: str) -> None:
        self._health[task] = None

    def unhealthy(self, task: str, why: str) -> None:
        self._health[task] = why[:300]

    def health(self) -> dict:
        problems = {k: v for k, v in self._health.items() if v}
        return {"ok": not problems, "problems": problems, "jobs": self.store.counts(),
                "last_poll": self.last_poll._value.get()}

    def serve(self, host: str, port: int, port_file: Path | None = None) -> ThreadingHTTPServer:
        """Serve on `port` (0: one the system picks, so nothing can take it between choosing and
        binding); the port it got is logged and, with `port_file`, written there once it listens."""
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    body, ctype, code = generate_latest(metrics.registry), "text/plain; version=0.0.4", 200
                elif self.path == "/healthz":
                    doc = metrics.health()
                    body, ctype, code = json.dumps(doc).encode(), "application/json", 200 if doc["ok"] else 503
                else:
                    body, ctype, code = b"not found\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        server = ThreadingHTTPServer((host, port), Handler)   # bound and listening on return
        bound = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
        if port_file is not None:
            tmp = port_file.with_name(f".{port_file.name}.tmp")
            tmp.write_text(f"{bound}\n")
            os.replace(tmp, port_file)       # a reader sees the whole number or no file
        log.info("metrics and health on http://%s:%d (/metrics, /healthz)", host, bound)
        return server
