"""Oracle node latency and throughput against a local Hardhat node.

Usage: .venv/bin/python benchmarks/oracle_latency.py [--requests 200] [--rate 25] [--auditor stub|solsentry]
Starts a Hardhat node and one oracle node (a real `solsentry oracle run` process), submits N
audit requests at a fixed rate from 4 requester accounts, and records for each the time from its
request transaction being mined to its AuditFinalized event being seen (polled every 20 ms).
The stub auditor answers at once (it isolates the node's own overhead); `solsentry` runs the
real Slither-only audit of a small contract (each request's source differs, so nothing is cached).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from eth_utils import keccak
from web3 import Web3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oracle.chain import node as chain_node  # noqa: E402
from oracle.chain.contracts import AuditOracleClient  # noqa: E402
from oracle.chain.deploy import deploy  # noqa: E402
from oracle.config import OracleSettings  # noqa: E402
from oracle.keystore import create_keystore  # noqa: E402

SOURCE = (ROOT / "examples" / "EtherBank.sol").read_text()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rate", type=float, default=25.0, help="requests submitted per second")
    ap.add_argument("--auditor", choices=("stub", "solsentry"), default="stub")
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="solsentry-bench-"))
    port = chain_node.free_port()
    settings = OracleSettings(chain_dir=work / "chain")
    info, _ = chain_node.start(settings, port=port)
    daemon = None
    try:
        w3 = Web3(Web3.HTTPProvider(info.url))
        password = secrets.token_urlsafe(16)
        address = create_keystore(work / "keystore.json", password)
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": w3.eth.accounts[0], "to": address, "value": 10**20}))
        d = deploy(info.url, signers=[address])
        d.save(work / "deployment.json")
        env = {**os.environ, "SOLSENTRY_KEYSTORE_PASSWORD": password,
               "SOLSENTRY_DEPLOYMENT": str(work / "deployment.json"),
               "SOLSENTRY_KEYSTORE_FILE": str(work / "keystore.json"), "SOLSENTRY_DB_PATH": str(work / "jobs.sqlite"),
               "SOLSENTRY_POLL_INTERVAL_S": "0.05", "SOLSENTRY_AUDITOR": args.auditor,
               "SOLSENTRY_WORKERS": str(args.workers), "SOLSENTRY_AUDIT_TOOLS": '["slither"]',
               "SOLSENTRY_RESULTS_DIR": str(work / "results")}
        with open(work / "oracle.log", "wb") as log:
            daemon = subprocess.Popen([str(Path(sys.executable).parent / "solsentry"), "oracle", "run"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        time.sleep(3)  # let the node start and recover
        client = AuditOracleClient(w3, d.audit_oracle)
        mined: dict[bytes, float] = {}
        finalized: dict[bytes, float] = {}
        stop = threading.Event()

        def watch() -> None:
            w = Web3(Web3.HTTPProvider(info.url))
            c = AuditOracleClient(w, d.audit_oracle)
            cursor = w.eth.block_number
            while not stop.is_set():
                head = w.eth.block_number
                if head >= cursor:
                    for e in c.contract.events.AuditFinalized().get_logs(from_block=cursor, to_block=head):
                        finalized.setdefault(bytes(e["args"]["requestId"]), time.monotonic())
                    cursor = head + 1
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        lock = threading.Lock()
        requesters = w3.eth.accounts[2:6]

        def submit(i: int) -> None:
            data = json.dumps({"files": {"Bank.sol": SOURCE + f"\n// request {i}\n"}}, sort_keys=True,
                              separators=(",", ":")).encode()
            rid, _ = client.request_audit(requesters[i % len(requesters)], keccak(data), inline=data)
            with lock:
                mined[rid] = time.monotonic()

        started = time.monotonic()
        threads = []
        for i in range(args.requests):
            due = started + i / args.rate
            time.sleep(max(0.0, due - time.monotonic()))
            t = threading.Thread(target=submit, args=(i,))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        submitted_at = time.monotonic()
        deadline = time.monotonic() + 900
        while len(finalized.keys() & mined.keys()) < len(mined) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        done = sorted(finalized[r] - mined[r] for r in mined if r in finalized)
        last = max(finalized[r] for r in mined if r in finalized)
        first = min(mined.values())
        q = statistics.quantiles(done, n=100) if len(done) > 1 else [done[0]] * 99
        print(json.dumps({
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs",
            "auditor": args.auditor, "requests": args.requests, "submit_rate_per_s": args.rate,
            "submitted_in_s": round(submitted_at - started, 2), "finalized": len(done),
            "p50_ms": round(q[49] * 1000), "p95_ms": round(q[94] * 1000), "max_ms": round(done[-1] * 1000),
            "sustained_requests_per_s": round(len(done) / (last - first), 1),
        }, indent=2))
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
        chain_node.stop(settings)


if __name__ == "__main__":
    main()
