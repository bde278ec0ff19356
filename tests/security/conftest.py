"""Real components for the hostile-input tests (issue 12): a canary secret outside every target,
a `solsentry serve` (tests/lib/testsupport/servers.py), oracle node processes with a deployed AuditOracle
on the root conftest's Hardhat node, and an `npm` stand-in that records being run.

Test modules cannot import from here (pytest's importlib import mode), so fixtures hand out the
helpers. Everything a fixture starts is stopped afterwards, pass or fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from testsupport import servers
from testsupport.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).parent / "solsentry")
PASSWORD = "correct horse battery staple"


# ---- the canary ---------------------------------------------------------------------------------------
class Canary:
    """A secret file outside the target, with random content, and the ways to spot it in any output."""

    def __init__(self, base: Path) -> None:
        self.dir = base / "outside"
        self.dir.mkdir(parents=True)
        self.token = "canary" + secrets.token_hex(24)
        # The token is the first line: a compiler that read the file would quote it in its error.
        self.content = f"{self.token}\ncontract Leak{self.token} {{}}\n".encode()
        self.path = self.dir / "secret.sol"
        self.path.write_bytes(self.content)
        self.sha256 = hashlib.sha256(self.content).hexdigest()
        self.needles = [self.token.encode(), self.content, self.sha256.encode(), self.sha256.upper().encode()]

    def deep_relative(self) -> str:
        """A `../` import that reaches the secret from any folder (`..` stops at `/`)."""
        return "../" * 40 + str(self.path).lstrip("/")

    def assert_absent(self, data: bytes | str, where: str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        # Terminal output wraps lines: look in the text without whitespace too.
        flat = re.sub(rb"\s+", b"", raw)
        for needle in self.needles:
            assert needle not in raw and needle not in flat, f"the secret leaked into {where}"

    def assert_absent_under(self, folder: Path) -> int:
        """Every regular file under `folder` (reports, logs, stores, caches); returns how many were read."""
        n = 0
        for p in folder.rglob("*"):
            if p.is_file() and not p.is_symlink():
                self.assert_absent(p.read_bytes(), str(p))
                n += 1
        return n


@pytest.fixture
def canary(tmp_path) -> Canary:
    return Canary(tmp_path)


# ---- an npm that must never run ----------------------------------------------------------------------
class NpmTrap:
    def __init__(self, base: Path) -> None:
        self.marker = base / "npm-was-run.txt"
        self.script = base / "fake-npm"
        self.script.write_text(f'#!/bin/sh\necho "npm $*" >> "{self.marker}"\nexit 1\n')
        self.script.chmod(0o755)

    @property
    def env(self) -> dict[str, str]:
        return {"SOLSENTRY_NPM": str(self.script)}

    def assert_never_run(self) -> None:
        assert not self.marker.exists(), f"npm was started: {self.marker.read_text()}"


@pytest.fixture
def npm_trap(tmp_path) -> NpmTrap:
    return NpmTrap(tmp_path)


# ---- a real `solsentry serve` (tests/lib/testsupport/servers.py) ------------------------------------
class Server(servers.Server):
    """The shared server, with the rate limit out of the way; `call` gives (status, body)."""

    ENV: ClassVar[dict[str, str]] = {"SOLSENTRY_API_RATE_LIMIT_PER_MINUTE": "100000"}

    def key(self, name: str = "security") -> str:
        return super().key(name)

    def call(self, method: str, path: str, body: bytes | None = None, key: str | None = None,
             ctype: str = "application/json") -> tuple[int, bytes]:
        return super().call(method, path, body, key, ctype)[:2]

    def wait_done(self, key: str, audit_id: str, timeout: float = 600) -> tuple[dict, bytes]:
        """The finished audit's status document, and its raw bytes."""
        def finished():
            code, body = self.call("GET", f"/v1/audits/{audit_id}", key=key)
            assert code == 200, body
            return (json.loads(body), body) if json.loads(body)["status"] in ("done", "failed") else None

        return wait_for(finished, timeout, f"audit {audit_id}", interval=0.3, fail=self._alive)


@pytest.fixture
def make_server() -> Iterator:
    yield from servers.servers(Server)


# ---- oracle nodes on the root conftest's Hardhat chain ------------------------------------------------
class OracleNode:
    """A deployed AuditOracle with one registered signer, and that signer's `solsentry oracle run`."""

    def __init__(self, hardhat_node, base: Path, env: dict | None = None) -> None:
        from eth_utils import keccak
        from web3 import Web3

        from oracle.chain.contracts import AuditOracleClient
        from oracle.chain.deploy import deploy
        from oracle.keystore import create_keystore

        self.dir = base / "oracle-node"
        self.dir.mkdir(parents=True)
        self.w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
        address = create_keystore(self.dir / "keystore.json", PASSWORD, keccak(text=f"security test key {base}"))
        self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_transaction(
            {"from": self.w3.eth.accounts[0], "to": address, "value": 10**20}))
        deployment = deploy(hardhat_node.url, signers=[address], threshold=1)
        self.deployment = base / "deployment.json"
        deployment.save(self.deployment)
        self.client = AuditOracleClient(self.w3, deployment.audit_oracle)
        self.log = self.dir / "node.log"
        self.env = {**os.environ, "SOLSENTRY_KEYSTORE_PASSWORD": PASSWORD,
                    "SOLSENTRY_DEPLOYMENT": str(self.deployment),
                    "SOLSENTRY_KEYSTORE_FILE": str(self.dir / "keystore.json"),
                    "SOLSENTRY_DB_PATH": str(self.dir / "jobs.sqlite"), "SOLSENTRY_POLL_INTERVAL_S": "0.2",
                    "SOLSENTRY_AUDITOR": "solsentry", "SOLSENTRY_RESULTS_DIR": str(self.dir / "results"),
                    "SOLSENTRY_WORK_DIR": str(self.dir / "work"),
                    "SOLSENTRY_AUDIT_TOOLS": '["slither"]', "SOLSENTRY_REVIEW": "none", **(env or {})}
        self.proc: subprocess.Popen | None = None

    def request(self, data: bytes, *, inline: bool = True, uri: str = "") -> bytes:
        from eth_utils import keccak

        request_id, _ = self.client.request_audit(self.w3.eth.accounts[2], keccak(data),
                                                  uri=uri, inline=data if inline else b"")
        return request_id

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([EXE, "oracle", "run"], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def _alive(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, \
            f"the oracle node exited {self.proc.returncode}:\n{self.log.read_text(errors='replace')[-3000:]}"

    def wait_final(self, ids: list[bytes], timeout: float = 600) -> None:
        from oracle.chain.contracts import RequestState

        wait_for(lambda: all(self.client.get_request(i).state == RequestState.FINALIZED for i in ids), timeout,
                 "the requests to be finalized", interval=0.5, fail=self._alive)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)

    def output(self, output_hash: bytes) -> bytes:
        """The stored answer bytes, through `solsentry oracle output HASH --out FILE`."""
        out = self.dir / f"output-{output_hash.hex()[:12]}.bin"
        proc = subprocess.run([EXE, "oracle", "output", "0x" + output_hash.hex(), "--out", str(out)], env=self.env,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
        return out.read_bytes()


@pytest.fixture
def make_oracle_node(hardhat_node, tmp_path) -> Iterator:
    made: list[OracleNode] = []

    def make(env: dict | None = None) -> OracleNode:
        made.append(OracleNode(hardhat_node, tmp_path / f"n{len(made)}", env))
        return made[-1]

    try:
        yield make
    finally:
        for n in made:
            n.stop()
