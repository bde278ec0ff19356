"""The oracle node under faults, against a real Hardhat node: quorum with a stopped and a
dissenting node, a reorg that removes a request, an RPC outage, and malformed inputs."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from eth_utils import keccak
from testsupport.waiting import wait_for
from web3 import Web3

from oracle.chain.contracts import AuditOracleClient, RequestState
from oracle.chain.deploy import deploy

_spec = importlib.util.spec_from_file_location("daemon_helpers", Path(__file__).with_name("test_daemon.py"))
_h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_h)
Node, _fund, _inline, _request, _wait_final, VULNERABLE = (_h.Node, _h._fund, _h._inline, _h._request,
                                                           _h._wait_final, _h.VULNERABLE)


def _nodes(hardhat_node, tmp_path, names, threshold, rpc_url=None, extra_env=None):
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    nodes = [Node(tmp_path, hardhat_node.url, name, "stub") for name in names]
    for n in nodes:
        _fund(w3, n.address)
        n.extra.update(extra_env or {})
    d = deploy(hardhat_node.url, signers=[n.address for n in nodes], threshold=threshold)
    if rpc_url:
        d.rpc_url = rpc_url
    path = tmp_path / "deployment.json"
    d.save(path)
    return w3, AuditOracleClient(w3, d.audit_oracle), nodes, path


def _start(node, deployment, **env):
    node.extra.update({k: str(v) for k, v in env.items()})
    node.start(deployment)


def test_quorum_two_of_four_with_a_dissenter_and_a_stopped_node(hardhat_node, tmp_path):
    w3, client, nodes, dep = _nodes(hardhat_node, tmp_path, ["a", "b", "c", "dissent"], threshold=2)
    a, b, c, dissent = nodes
    try:
        # The dissenter answers first and alone: its result (another model) is recorded, not final.
        _start(dissent, dep, SOLSENTRY_REVIEW="none")   # another review model: another modelHash
        r1 = _request(client, w3, _inline(VULNERABLE))
        deadline = time.monotonic() + 60
        proposed = []
        while not proposed and time.monotonic() < deadline:
            proposed = [e for e in client.contract.events.ResultProposed().get_logs(from_block=0)
                        if e["args"]["requestId"] == r1 and e["args"]["signer"] == dissent.address]
            time.sleep(0.3)
        assert proposed, dissent.log.read_text()[-2000:]
        assert client.get_request(r1).state == RequestState.OPEN
        for n in (a, b, c):
            _start(n, dep)
        assert not _wait_final(client, [r1], timeout=120, nodes=[a, b, c])
        dissent_digest = proposed[0]["args"]["resultDigest"]
        assert client.votes_for(r1, dissent_digest) == 1          # recorded ...
        final = client.contract.events.AuditFinalized().get_logs(from_block=0)
        (f1,) = [e for e in final if e["args"]["requestId"] == r1]
        assert f1["args"]["modelHash"] != _model_hash_of(dissent, r1)   # ... and not counted
        # One honest node stops: two are still a quorum.
        b.kill()
        r2 = _request(client, w3, _inline(VULNERABLE + "\n// second\n"))
        assert not _wait_final(client, [r2], timeout=120, nodes=[a, c])
    finally:
        for n in nodes:
            n.kill(signal.SIGTERM)


def _model_hash_of(node, request_id: bytes) -> bytes:
    import sqlite3

    row = sqlite3.connect(node.dir / "jobs.sqlite").execute(
        "SELECT model_hash FROM jobs WHERE request_id = ?", ("0x" + request_id.hex(),)).fetchone()
    return bytes.fromhex(row[0][2:])


def test_reorg_removes_an_unconfirmed_request(hardhat_node, tmp_path):
    w3, client, (node,), dep = _nodes(hardhat_node, tmp_path, ["solo"], threshold=1)
    _start(node, dep, SOLSENTRY_CONFIRMATIONS=3)
    try:
        snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
        doomed = _request(client, w3, _inline(VULNERABLE + "\n// doomed\n"))
        # The node polls: the request is 1 block deep, not confirmed (its cursor reaches the safe head).
        safe_head = w3.eth.block_number - 3 + 1
        wait_for(lambda: (_cursor(node) or -1) >= safe_head, 120, "the node to poll past the request's parent",
                 fail=lambda: _alive(node))
        assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
        assert client.get_request(doomed).state == RequestState.NONE
        # Another requester, so the id differs (ids derive from requester and nonce, and the
        # revert rewound the nonce).
        data = _inline(VULNERABLE + "\n// survivor\n")
        survivor, _ = client.request_audit(w3.eth.accounts[3], keccak(data), inline=data)
        for _ in range(4):
            w3.provider.make_request("evm_mine", [])
        assert not _wait_final(client, [survivor], timeout=120, nodes=[node])
        wait_for(lambda: _state(node, survivor) == "CONFIRMED", 120, "the node to record its confirmation",
                 fail=lambda: _alive(node))
    finally:
        node.kill(signal.SIGTERM)
    import sqlite3

    ids = {r[0] for r in sqlite3.connect(node.dir / "jobs.sqlite").execute("SELECT request_id FROM jobs")}
    assert "0x" + doomed.hex() not in ids and "0x" + survivor.hex() in ids


def _db(node, query: str, *args):
    import sqlite3

    if not (node.dir / "jobs.sqlite").exists():   # connecting would create it
        return None
    with contextlib.closing(sqlite3.connect(node.dir / "jobs.sqlite", timeout=30)) as db:
        try:
            return db.execute(query, args).fetchone()
        except sqlite3.OperationalError:            # the node has not created its tables yet
            return None


def _cursor(node) -> int | None:
    row = _db(node, "SELECT MAX(block) FROM cursors")
    return row[0] if row else None


def _state(node, request_id: bytes) -> str | None:
    row = _db(node, "SELECT state FROM jobs WHERE request_id = ?", "0x" + request_id.hex())
    return row[0] if row else None


def _alive(node) -> None:
    assert node.proc.poll() is None, f"{node.dir.name} exited:\n{node.log.read_text()[-3000:]}"


class Proxy:
    """A TCP proxy in front of the Hardhat node that can be unplugged and plugged back. The first
    start binds a free port (0) itself; a restart binds the same one again (the node keeps its URL)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.port = 0
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        self.port = server.getsockname()[1]
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._server is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would leave the
            # socket listening until that call returns.
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self._conns.clear()


def test_rpc_outage_and_catch_up(hardhat_node, tmp_path):
    port = int(hardhat_node.url.rsplit(":", 1)[1])
    proxy = Proxy(port)
    proxy.start()
    w3, client, (node,), dep = _nodes(hardhat_node, tmp_path, ["behind-proxy"], threshold=1,
                                      rpc_url=f"http://127.0.0.1:{proxy.port}")
    _start(node, dep)
    try:
        first = _request(client, w3, _inline(VULNERABLE + "\n// before\n"))
        assert not _wait_final(client, [first], timeout=120, nodes=[node])
        outages = node.log.read_text().count("RPC unavailable")
        proxy.stop()
        during = [_request(client, w3, _inline(VULNERABLE + f"\n// during {i}\n")) for i in range(3)]
        # The node has met the outage (and goes on): it logs each failed tick.
        wait_for(lambda: node.log.read_text().count("RPC unavailable") > outages, 120,
                 "the node to notice the outage", fail=lambda: _alive(node))
        assert node.proc.poll() is None, "the node died while the RPC endpoint was down"
        assert all(client.get_request(r).state == RequestState.OPEN for r in during)
        proxy.start()
        assert not _wait_final(client, during, timeout=120, nodes=[node])
    finally:
        node.kill(signal.SIGTERM)
        proxy.stop()
    assert "RPC unavailable" in node.log.read_text()


@pytest.mark.slow
def test_malformed_inputs_are_answered_with_their_status(hardhat_node, tmp_path):
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    node = Node(tmp_path, hardhat_node.url, "real", "solsentry")
    _fund(w3, node.address)
    d = deploy(hardhat_node.url, signers=[node.address])
    dep = tmp_path / "deployment.json"
    d.save(dep)
    client = AuditOracleClient(w3, d.audit_oracle)
    requester = w3.eth.accounts[2]
    readme = json.dumps({"files": {"README.md": "# no contracts"}}).encode()
    broken = json.dumps({"files": {"A.sol": "pragma solidity ^0.8.0; contract A { function f( }"}}).encode()
    cases = {
        4: client.request_audit(requester, keccak(readme), inline=readme)[0],
        5: client.request_audit(requester, keccak(broken), inline=broken)[0],
        1: client.request_audit(requester, keccak(b"x"), uri="http://127.0.0.1:9/unreachable.zip")[0],
        2: client.request_audit(requester, keccak(b"what was promised"), uri="data:,something%20else")[0],
    }
    node.start(dep)
    try:
        assert not _wait_final(client, list(cases.values()), timeout=300, nodes=[node])
    finally:
        node.kill(signal.SIGTERM)
    for status, request_id in cases.items():
        assert client.get_request(request_id).status == status, (status, node.log.read_text()[-2000:])
