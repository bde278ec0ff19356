"""`solsentry oracle run`: load the key and deployment, build the node's parts and tasks, wire
them by hand, recover, then schedule the tasks.

poll     listener: confirmed request events -> RECEIVED jobs               wakes process
process  RECEIVED -> RUNNING -> GENERATED (audits in a worker pool)        wakes deliver
deliver  GENERATED -> SUBMITTED (sign, simulate, send; fulfillBatch)       wakes confirm
confirm  SUBMITTED -> CONFIRMED (receipts, fee bumps, re-broadcasts)
expire   jobs whose request was cancelled or whose deadline passed; the wallet gauge
prune    forget finished jobs after the retention period (outputs are kept)

Each task is a `Task` (`oracle/tasks/`): `setup`, `run` (one pass, guarded), `stop`. APScheduler
ticks every task at its interval; a wake submits one tick now.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

from oracle.chain.contracts import AuditOracleClient
from oracle.chain.deploy import Deployment
from oracle.chain.retry import RetryingRpc
from oracle.chain.rpc import web3_for
from oracle.chain.signer import ResultSigner
from oracle.chain.txmanager import TxManager
from oracle.config import OracleSettings
from oracle.keystore import load_keystore
from oracle.listener import Listener, ListenerConfig
from oracle.metrics import Metrics
from oracle.store import JobStore
from oracle.tasks.base import Parts, Task
from oracle.tasks.confirm import ConfirmTask
from oracle.tasks.deliver import DeliverTask
from oracle.tasks.expire import ExpireTask
from oracle.tasks.poll import PollTask
from oracle.tasks.process import ProcessTask
from oracle.tasks.prune import PruneTask

log = logging.getLogger(__name__)


@dataclass
class Node:
    parts: Parts
    listener: Listener
    poll: PollTask
    process: ProcessTask
    deliver: DeliverTask
    confirm: ConfirmTask
    expire: ExpireTask
    prune: PruneTask

    @property
    def tasks(self) -> list[Task]:
        return [self.poll, self.process, self.deliver, self.confirm, self.expire, self.prune]

    def recover(self) -> dict:
        """Resume after a crash: unfinished audits go back to RECEIVED; signed transactions whose
        receipt is unknown are re-broadcast byte for byte (same hash, so never a second tx)."""
        reset = self.parts.store.recover()
        rebroadcast = self.confirm.recover()
        log.info("recovered: %d audit(s) restarted, %d transaction(s) re-broadcast", reset, rebroadcast)
        return {"restarted": reset, "rebroadcast": rebroadcast}

    def close(self) -> None:
        for task in self.tasks:
            task.stop()
        self.parts.store.close()


def build_node(settings: OracleSettings, audit_fn=None) -> Node:
    deployment = Deployment.load(settings.deployment_file)
    account = load_keystore(settings)
    w3 = web3_for(deployment.rpc_url)
    rpc = RetryingRpc.from_settings(settings)   # one retry policy (and count) for every RPC call
    oracle = AuditOracleClient(w3, deployment.audit_oracle)
    store = JobStore(settings.db_path)
    parts = Parts(settings=settings, w3=w3, rpc=rpc, oracle=oracle, store=store,
                  tx=TxManager(w3, account, settings, rpc=rpc), signer=ResultSigner(account.key),
                  metrics=Metrics(store))
    listener = Listener(oracle, store, ListenerConfig(confirmations=settings.confirmations,
                                                      max_range=settings.max_block_range,
                                                      start_block=deployment.block), rpc=rpc)
    every = settings.poll_interval_s
    deliver = DeliverTask(parts, every)
    node = Node(parts, listener, poll=PollTask(parts, every, listener), process=ProcessTask(parts, every, audit_fn),
                deliver=deliver, confirm=ConfirmTask(parts, every, deliver.answers),
                expire=ExpireTask(parts, max(every, 5.0)), prune=PruneTask(parts, 3600))
    # Who wakes whom: a finished step starts the next one now rather than on its next tick.
    node.poll.on_received = node.process.wake
    node.process.on_generated = node.deliver.wake
    node.deliver.on_sent = node.confirm.wake
    return node


def run(settings: OracleSettings, stop: threading.Event | None = None) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from auditor.runtime.children import kill_leftovers

    kill_leftovers(settings.children_dir)   # audit processes a killed predecessor left behind
    node = build_node(settings)
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    node.recover()
    server = None
    if settings.metrics_port is not None:
        server = node.parts.metrics.serve(settings.metrics_host, settings.metrics_port, settings.metrics_port_file)
    # A tick skipped because the previous one still runs is normal under load, not a warning.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    for task in node.tasks:
        task.setup()
        scheduler.add_job(task.tick, "interval", seconds=task.interval, id=task.name)
        task.trigger = partial(scheduler.add_job, task.tick)   # one tick now (Task.tick never overlaps)
    _log_listening(node)          # before the first poll moves the cursor it reports
    scheduler.start()
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        if server is not None:
            server.shutdown()
        node.close()
        log.info("oracle node stopped")


def _log_listening(node: Node) -> None:
    """What the node answers, once, at INFO: an operator checks it against the deployment."""
    parts, listener = node.parts, node.listener
    done = parts.store.cursor(listener.cursor_name)
    start = listener.config.start_block if done is None else done + 1
    log.info("oracle node %s listening: RPC %s, chain id %d, AuditOracle %s, from block %d (%s)",
             parts.tx.address, redact_url(str(parts.w3.provider.endpoint_uri)), parts.w3.eth.chain_id,
             parts.oracle.address, start, "the deployment's" if done is None else "resuming after the last block read")


def redact_url(url: str) -> str:
    """scheme://host:port of an RPC URL: providers put API keys in the path, the query or the userinfo."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"
    return shown + ("/…" if parts.path.strip("/") or parts.query or parts.username else "")
