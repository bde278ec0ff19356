"""Oracle node latency and throughput against a local Hardhat node.

Usage: .venv/bin/python benchmarks/oracle_latency.py [--requests 200] [--rate 25] [--auditor stub|solsentry]
                 [--isolation warm|fresh|both] [--review none|embedded] [--workers N] [--poll-interval S]
For each isolation (`both`: fresh, the way before the warm pool, then warm, in one sitting), starts
a Hardhat node and one oracle node (a real `solsentry oracle run` process), submits N
audit requests at a fixed rate from 4 requester accounts, and records for each the time from its
AuditRequested log to its AuditFinalized log, both stamped when Hardhat pushes them over a
WebSocket `eth_subscribe("logs")` (no polling load on the node). Then prints the JSON-RPC calls
the node served, by method, and the CPU seconds of the Hardhat node and of the oracle node.
The stub auditor answers at once (it isolates the node's own overhead); `solsentry` runs the
real Slither-only audit of a small contract (each request's source differs, so nothing is cached),
with the embedded review when `--review embedded`. The node runs with its shipped settings but for
the auditor, the tools, the review, and `--workers` / `--poll-interval` when given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from eth_utils import keccak
from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oracle.chain import node as chain_node  # noqa: E402
from oracle.chain.contracts import AuditOracleClient  # noqa: E402
from oracle.chain.deploy import deploy  # noqa: E402
from oracle.chain.rpc import web3_for  # noqa: E402
from oracle.config import OracleSettings  # noqa: E402
from oracle.keystore import create_keystore  # noqa: E402

ZERO = "0x" + "00" * 20
SOURCE = (ROOT / "examples" / "EtherBank.sol").read_text()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rate", type=float, default=25.0, help="requests submitted per second")
    ap.add_argument("--auditor", choices=("stub", "solsentry"), default="stub")
    ap.add_argument("--workers", type=int, default=None, help="default: the node's (SOLSENTRY_WORKERS)")
    ap.add_argument("--poll-interval", type=float, default=None, help="default: the node's")
    ap.add_argument("--isolation", choices=("warm", "fresh", "both"), default="warm")
    ap.add_argument("--review", choices=("none", "embedded"), default="none")
    args = ap.parse_args()
    for isolation in (("fresh", "warm") if args.isolation == "both" else (args.isolation,)):
        run_once(args, isolation)


def run_once(args: argparse.Namespace, isolation: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="solsentry-bench-"))
    settings = OracleSettings(chain_dir=work / "chain")
    info, _ = chain_node.start(settings, port=0)   # the node binds a free port itself
    daemon = None
    daemon_cpu = None
    try:
        w3 = web3_for(info.url)
        password = secrets.token_urlsafe(16)
        address = create_keystore(work / "keystore.json", password)
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": w3.eth.accounts[0], "to": address, "value": 10**20}))
        d = deploy(info.url, signers=[address])
        d.save(work / "deployment.json")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOLSENTRY_")}
        env.update({"SOLSENTRY_KEYSTORE_PASSWORD": password, "SOLSENTRY_DEPLOYMENT": str(work / "deployment.json"),
                    "SOLSENTRY_KEYSTORE_FILE": str(work / "keystore.json"),
                    "SOLSENTRY_DB_PATH": str(work / "jobs.sqlite"), "SOLSENTRY_AUDITOR": args.auditor,
                    "SOLSENTRY_AUDIT_TOOLS": '["slither"]', "SOLSENTRY_REVIEW": args.review,
                    "SOLSENTRY_AUDIT_ISOLATION": isolation, "SOLSENTRY_RESULTS_DIR": str(work / "results")})
        if args.workers:
            env["SOLSENTRY_WORKERS"] = str(args.workers)
        if args.poll_interval:
            env["SOLSENTRY_POLL_INTERVAL_S"] = str(args.poll_interval)
        with open(work / "oracle.log", "wb") as log:
            # BENCH_DAEMON_PREFIX replaces the `solsentry` launcher (e.g. with a profiling wrapper).
            launcher = (os.environ.get("BENCH_DAEMON_PREFIX", "").split()
                        or [str(Path(sys.executable).parent / "solsentry")])
            daemon = subprocess.Popen([*launcher, "oracle", "run"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        # Started and recovered once it says what it listens to (logged at INFO before its first poll),
        # and, with the real auditor, once its audit workers are warm: the steady state is measured.
        deadline = time.monotonic() + 300
        warm = args.auditor == "solsentry" and isolation == "warm"
        marks = [" listening: "] + (["audit workers ready"] if warm else [])
        while not all(m in (work / "oracle.log").read_text(errors="replace") for m in marks):
            if daemon.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the oracle node did not start; see {work / 'oracle.log'}")
            time.sleep(0.1)
        client = AuditOracleClient(w3, d.audit_oracle)
        mined: dict[bytes, float] = {}
        finalized: dict[bytes, float] = {}
        stop = threading.Event()
        ready = threading.Event()
        requested_topic = client.contract.events.AuditRequested().topic
        finalized_topic = client.contract.events.AuditFinalized().topic

        def watch() -> None:
            # Pushed log notifications over Hardhat's WebSocket endpoint: both ends of each latency
            # are stamped the same way, and the measurement puts no polling load on the node.
            with ws_connect(info.url.replace("http://", "ws://")) as ws:
                ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": [
                    "logs", {"address": d.audit_oracle, "topics": [[requested_topic, finalized_topic]]}]}))
                ws.recv()
                ready.set()
                while not stop.is_set():
                    try:
                        msg = json.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    now = time.monotonic()
                    entry = msg.get("params", {}).get("result", {})
                    if entry.get("removed"):
                        continue
                    topic, rid = entry["topics"][0], bytes.fromhex(entry["topics"][1][2:])
                    (mined if topic == requested_topic else finalized).setdefault(rid, now)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        ready.wait(30)
        requesters = w3.eth.accounts[2:6]
        fee = client.fee()
        deadline_ts = w3.eth.get_block("latest")["timestamp"] + 7200
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]

        def submit(i: int) -> None:
            # One eth_sendTransaction with every field set: the load generator should load the
            # chain with requests, not with gas estimates and fee look-ups of its own.
            data = json.dumps({"files": {"Bank.sol": SOURCE + f"\n// request {i}\n"}}, sort_keys=True,
                              separators=(",", ":")).encode()
            fn = client.contract.functions.requestAudit(keccak(data), "", data, ZERO, 0, deadline_ts)
            fn.transact({"from": requesters[i % len(requesters)], "value": fee, "gas": 400_000,
                         "maxFeePerGas": 4 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9})

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
        watcher.join(timeout=5)
        done = sorted(finalized[r] - mined[r] for r in mined if r in finalized)
        last = max(finalized[r] for r in mined if r in finalized)
        first = min(mined.values())
        q = statistics.quantiles(done, n=100) if len(done) > 1 else [done[0]] * 99
        print(json.dumps({
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs",
            "auditor": args.auditor, "isolation": isolation, "review": args.review,
            "requests": args.requests, "submit_rate_per_s": args.rate,
            "submitted_in_s": round(submitted_at - started, 2), "finalized": len(done),
            "p50_ms": round(q[49] * 1000), "p95_ms": round(q[94] * 1000), "max_ms": round(done[-1] * 1000),
            "sustained_requests_per_s": round(len(done) / (last - first), 1),
        }, indent=2))
    finally:
        daemon_cpu = _cpu_seconds(daemon.pid) if daemon is not None else None
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
        hardhat_cpu = _cpu_seconds(info.pid)
        chain_node.stop(settings)
        print(json.dumps({"rpc_calls": _rpc_counts(Path(info.log)), "cpu_s": {
            "hardhat_node": hardhat_cpu, "oracle_node": daemon_cpu}}, indent=2))


def _cpu_seconds(pid: int) -> float | None:
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return round(t.user + t.system + t.children_user + t.children_system, 1)


def _rpc_counts(log: Path) -> dict[str, int]:
    """Hardhat's node prints each JSON-RPC method it serves on a line of its own (coloured; a run of
    calls to one method shows as "method", "method (2)", "method (3)" ...: one line per call)."""
    counts: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        plain = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
        m = re.fullmatch(r"((?:eth|net|web3|evm|hardhat)_\w+)(?: \(\d+\))?", plain)
        if m:
            counts[m[1]] = counts.get(m[1], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    main()
