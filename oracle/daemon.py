"""`solsentry oracle run`: load the key and deployment, recover, then schedule the node's tasks."""

from __future__ import annotations

import logging
import signal
import threading
from urllib.parse import urlsplit

from oracle.chain.deploy import Deployment
from oracle.config import OracleSettings
from oracle.keystore import load_keystore
from oracle.service import OracleNode

log = logging.getLogger(__name__)


def build_node(settings: OracleSettings, audit_fn=None) -> OracleNode:
    deployment = Deployment.load(settings.deployment_file)
    account = load_keystore(settings)
    return OracleNode(settings, deployment, account, audit_fn=audit_fn)


def run(settings: OracleSettings, stop: threading.Event | None = None) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from auditor.children import kill_leftovers

    kill_leftovers(settings.children_dir)   # audit processes a killed predecessor left behind
    node = build_node(settings)
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    node.recover()
    server = None
    if settings.metrics_port is not None:
        server = node.metrics.serve(settings.metrics_host, settings.metrics_port, settings.metrics_port_file)
    # A tick skipped because the previous one still runs is normal under load, not a warning.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    every = settings.poll_interval_s
    scheduler.add_job(node.tick_poll, "interval", seconds=every, id="poll")
    scheduler.add_job(node.tick_process, "interval", seconds=every, id="process")
    delivery = threading.Thread(target=node.delivery_loop, args=(stop, every), name="delivery", daemon=True)
    delivery.start()
    scheduler.add_job(node.tick_expire, "interval", seconds=max(every, 5.0), id="expire")
    scheduler.add_job(node.tick_prune, "interval", seconds=3600, id="prune")
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


def _log_listening(node: OracleNode) -> None:
    """What the node answers, once, at INFO: an operator checks it against the deployment."""
    done = node.store.cursor(node.listener.cursor_name)
    start = node.listener.config.start_block if done is None else done + 1
    log.info("oracle node %s listening: RPC %s, chain id %d, AuditOracle %s, from block %d (%s)",
             node.tx.address, redact_url(str(node.w3.provider.endpoint_uri)), node.w3.eth.chain_id,
             node.oracle.address, start, "the deployment's" if done is None else "resuming after the last block read")


def redact_url(url: str) -> str:
    """scheme://host:port of an RPC URL: providers put API keys in the path, the query or the userinfo."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"
    return shown + ("/…" if parts.path.strip("/") or parts.query or parts.username else "")
