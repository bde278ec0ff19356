"""The oracle node end to end against a real Hardhat node: the daemon runs as a real process."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from oracle.chain.contracts import AuditOracleClient, RequestState
from oracle.chain.deploy import deploy
from oracle.keystore import create_keystore

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).parent / "solsentry")
VULNERABLE = (ROOT / "examples" / "EtherBank.sol").read_text()
PASSWORD = "correct horse battery staple"


class Node:
    """One oracle node process with its own key, store and log."""

    def __init__(self, tmp: Path, url: str, name: str = "node", auditor: str = "solsentry") -> None:
        self.dir = tmp / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = keccak(text=f"solsentry test oracle key {name} {tmp}")
        self.address = create_keystore(self.dir / "keystore.json", PASSWORD, self.key)
        self.url = url
        self.auditor = auditor
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / "node.log"
        self.extra: dict[str, str] = {}

    def env(self, deployment: Path) -> dict:
        return {**os.environ, "SOLSENTRY_KEYSTORE_PASSWORD": PASSWORD, "SOLSENTRY_DEPLOYMENT": str(deployment),
                "SOLSENTRY_KEYSTORE_FILE": str(self.dir / "keystore.json"),
                "SOLSENTRY_DB_PATH": str(self.dir / "jobs.sqlite"),
                "SOLSENTRY_POLL_INTERVAL_S": "0.2", "SOLSENTRY_AUDITOR": self.auditor,
                "SOLSENTRY_RESULTS_DIR": str(self.dir / "results"), "SOLSENTRY_AUDIT_TOOLS": "[\"slither\"]",
                **self.extra}

    def start(self, deployment: Path) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([EXE, "oracle", "run"], env=self.env(deployment), stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def cli(self, deployment: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([EXE, "oracle", *args], env=self.env(deployment), capture_output=True, text=True,
                              timeout=120)


def _fund(w3: Web3, address: str) -> None:
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
        {"from": w3.eth.accounts[0], "to": address, "value": 10**20}))


def _setup(hardhat_node, tmp_path, nodes: int = 1, threshold: int = 1, auditor: str = "solsentry"):
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    ns = [Node(tmp_path, hardhat_node.url, f"node{i}", auditor) for i in range(nodes)]
    for n in ns:
        _fund(w3, n.address)
    d = deploy(hardhat_node.url, signers=[n.address for n in ns], threshold=threshold)
    path = tmp_path / "deployment.json"
    d.save(path)
    return w3, AuditOracleClient(w3, d.audit_oracle), ns, path


def _gauge(text: str, name: str) -> float | None:
    """The value of an unlabelled metric in a Prometheus text page (None when absent); a float,
    so compare it with float(wei)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def _inline(source: str) -> bytes:
    return json.dumps({"files": {"Bank.sol": source}}, sort_keys=True, separators=(",", ":")).encode()


def _request(client: AuditOracleClient, w3: Web3, data: bytes) -> bytes:
    request_id, _ = client.request_audit(w3.eth.accounts[2], keccak(data), inline=data)
    return request_id


def _wait_final(client, ids, timeout=300.0, nodes=()):
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for n in nodes:
            if n.proc is not None and n.proc.poll() is not None:
                raise AssertionError(f"{n.dir.name} exited with {n.proc.returncode}:\n{n.log.read_text()[-3000:]}")
        pending = {i for i in pending if client.get_request(i).state != RequestState.FINALIZED}
        time.sleep(0.3)
    return pending


def test_round_trip(hardhat_node, tmp_path):
    import urllib.request

    from testsupport.waiting import wait_for

    w3, client, (node,), deployment = _setup(hardhat_node, tmp_path)
    # Port 0: the node binds a free port itself and writes it to the port file once it listens.
    port_file = tmp_path / "metrics.port"
    node.extra.update({"SOLSENTRY_METRICS_PORT": "0", "SOLSENTRY_METRICS_PORT_FILE": str(port_file)})
    node.start(deployment)
    try:
        request_id = _request(client, w3, _inline(VULNERABLE))
        assert not _wait_final(client, [request_id], timeout=180, nodes=[node]), node.log.read_text()[-3000:]
        port = int(port_file.read_text())

        def scraped() -> str | None:
            # The node records its own confirmation, and an expire tick refreshes the wallet gauge,
            # a moment after the chain says final.
            # The gauge must show the wallet's real balance, after paying for the answer's gas.
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            refreshed = _gauge(text, "solsentry_oracle_wallet_balance_wei") == float(w3.eth.get_balance(node.address))
            return text if "solsentry_oracle_answers_total 1.0" in text and refreshed else None

        metrics = wait_for(scraped, 120, "the metrics of the answered request", interval=0.3)
        assert "solsentry_oracle_requests_seen_total 1.0" in metrics
        assert "solsentry_oracle_answers_total 1.0" in metrics
        balance = _gauge(metrics, "solsentry_oracle_wallet_balance_wei")
        assert balance == float(w3.eth.get_balance(node.address)) and 0 < balance < 10**20   # funded 10**20, paid gas
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())
        assert health["ok"] is True and health["jobs"].get("CONFIRMED") == 1
    finally:
        node.kill(signal.SIGTERM)
    view = client.get_request(request_id)
    assert view.status == 0 and view.high >= 1
    out = node.cli(deployment, "output", "0x" + view.output_hash.hex())
    assert out.returncode == 0, out.stderr
    served = out.stdout.encode()[:-1]   # the command adds a newline on a terminal-less stdout
    assert keccak(served) == view.output_hash
    assert client.verify(request_id, served)
    report = json.loads(served)
    assert report["schema"] == "solsentry.report/1" and report["findings"]
    status = node.cli(deployment, "status", "0x" + request_id.hex())
    assert "CONFIRMED" in status.stdout


@pytest.mark.slow
def test_crash_safety_sigkill(hardhat_node, tmp_path):
    """50 requests; the daemon is SIGKILLed at random moments 5+ times and restarted."""
    w3, client, (node,), deployment = _setup(hardhat_node, tmp_path, auditor="stub")
    rng = random.Random(7)
    ids = []
    node.start(deployment)
    kills = 0
    try:
        for i in range(50):
            ids.append(_request(client, w3, _inline(VULNERABLE + f"\n// variant {i}\n")))
            if i % 9 == 4:
                time.sleep(rng.uniform(0.05, 1.5))
                node.kill()
                kills += 1
                node.start(deployment)
        time.sleep(rng.uniform(0.1, 1.0))
        node.kill()
        kills += 1
        node.start(deployment)
        assert not _wait_final(client, ids, timeout=300), node.log.read_text()[-3000:]
    finally:
        node.kill(signal.SIGTERM)
    assert kills >= 5
    finalized = client.contract.events.AuditFinalized().get_logs(from_block=0)
    per_request = {}
    for e in finalized:
        per_request[e["args"]["requestId"]] = per_request.get(e["args"]["requestId"], 0) + 1
    assert set(per_request) == set(ids) and set(per_request.values()) == {1}
    # No transaction of the node reverted (no duplicate answers sent).
    reverted = []
    for n in range(w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"] == node.address and w3.eth.get_transaction_receipt(tx["hash"])["status"] != 1:
                reverted.append(tx["hash"].hex())
    assert reverted == []
    # No audit ran twice to completion: the store counts completed runs per request.
    import sqlite3

    db = sqlite3.connect(node.dir / "jobs.sqlite")
    assert db.execute("SELECT MAX(runs_completed) FROM jobs").fetchone()[0] == 1


def test_keys_never_on_the_command_line(hardhat_node, tmp_path):
    out = subprocess.run([EXE, "oracle", "run", "--help"], capture_output=True, text=True)
    assert "--private-key" not in out.stdout and "--password" not in out.stdout
    assert Account.from_key(keccak(text="x")).address  # sanity: eth_account works here
