"""`solsentry oracle keystore create|address`, and `solsentry oracle run` reading what it made: real CLI
processes, a real Hardhat node (root conftest), the node's log at its default level (INFO)."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from testsupport.waiting import wait_for
from web3 import Web3

from oracle.chain.contracts import AuditOracleClient, RequestState
from oracle.chain.deploy import deploy

EXE = str(Path(sys.executable).parent / "solsentry")
PASSWORD = "Tr0ub4dor&3-cli-keystore"
KEY = keccak(text="solsentry test: imported node key")


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, "oracle", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


@pytest.fixture
def password_file(tmp_path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


def _no_secrets(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and KEY.hex() not in text.lower(), "a secret reached the output"


def test_create_then_address_without_a_password(tmp_path, password_file):
    ks = tmp_path / "keys" / "node.json"
    made = cli("keystore", "create", "--keystore", str(ks), "--password-file", str(password_file))
    assert made.returncode == 0, made.stderr
    address = made.stdout.strip()
    assert Web3.is_checksum_address(address) and stat.S_IMODE(ks.stat().st_mode) == 0o600
    shown = cli("keystore", "address", "--keystore", str(ks))     # no password anywhere
    assert shown.returncode == 0 and shown.stdout.strip() == address, shown.stderr
    # An existing keystore is kept unless --force.
    before = ks.read_bytes()
    again = cli("keystore", "create", "--keystore", str(ks), "--password-file", str(password_file))
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert ks.read_bytes() == before
    forced = cli("keystore", "create", "--keystore", str(ks), "--password-file", str(password_file), "--force")
    assert forced.returncode == 0 and forced.stdout.strip() != address


def test_import_key_file_and_password_from_the_environment(tmp_path, password_file):
    key_file = tmp_path / "key.hex"
    key_file.write_text("0x" + KEY.hex() + "\n")
    key_file.chmod(0o600)
    ks = tmp_path / "node.json"
    made = cli("keystore", "create", "--keystore", str(ks), "--import-key-file", str(key_file),
               env={"SOLSENTRY_KEYSTORE_PASSWORD_FILE": str(password_file)})
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == Account.from_key(KEY).address
    assert Account.decrypt(json.loads(ks.read_text()), PASSWORD) == KEY
    _no_secrets(made.stdout, made.stderr, ks.read_text())
    bad = tmp_path / "bad.hex"
    bad.write_text("not a key " + KEY.hex()[:10])
    refused = cli("keystore", "create", "--keystore", str(tmp_path / "other.json"), "--import-key-file", str(bad),
                  "--password-file", str(password_file))
    assert refused.returncode == 2 and "does not hold a hex private key" in refused.stderr
    assert KEY.hex()[:10] not in refused.stderr and "Traceback" not in refused.stderr


def test_no_password_source_and_no_terminal_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLSENTRY_KEYSTORE_PASSWORD")}
    out = subprocess.run([EXE, "oracle", "keystore", "create", "--keystore", str(tmp_path / "k.json")],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    assert out.returncode == 2 and "--password-file" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "k.json").exists()


def test_interactive_prompt_asks_twice(tmp_path):
    """On a terminal (a pseudo-terminal here) the password is typed, hidden, and confirmed."""
    ks = tmp_path / "k.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLSENTRY_KEYSTORE_PASSWORD")}
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([EXE, "oracle", "keystore", "create", "--keystore", str(ks)], stdin=terminal,
                            stdout=terminal, stderr=terminal, env=env, start_new_session=True)
    os.close(terminal)
    seen = b""

    def read_until(text: bytes) -> bool:
        nonlocal seen
        while text not in seen:
            try:
                seen += os.read(controller, 1024)
            except OSError:          # the program closed the terminal
                return False
        return True

    try:
        # Typed only once asked: the prompt turns echo off and drops what was typed before.
        assert read_until(b"Keystore password:"), seen
        os.write(controller, PASSWORD.encode() + b"\n")
        assert read_until(b"Repeat for confirmation:"), seen
        os.write(controller, PASSWORD.encode() + b"\n")
        assert proc.wait(timeout=120) == 0, seen
        read_until(b"\n0x")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    assert PASSWORD.encode() not in seen                     # not echoed
    assert Account.from_key(Account.decrypt(json.loads(ks.read_text()), PASSWORD)).address.encode() in seen


def _run_node(hardhat_node, tmp_path, password_file, *flags: str):
    """A keystore made by the CLI, funded and registered; then `oracle run FLAGS` answers one request."""
    ks = tmp_path / "keystore.json"
    made = cli("keystore", "create", "--keystore", str(ks), "--password-file", str(password_file))
    assert made.returncode == 0, made.stderr
    address = made.stdout.strip()
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
        {"from": w3.eth.accounts[0], "to": address, "value": 10**20}))
    d = deploy(hardhat_node.url, signers=[address])
    d.save(tmp_path / "deployment.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLSENTRY_KEYSTORE_PASSWORD")}
    env.update({"SOLSENTRY_KEYSTORE_PASSWORD_FILE": str(password_file), "SOLSENTRY_KEYSTORE_FILE": str(ks),
                "SOLSENTRY_DEPLOYMENT": str(tmp_path / "deployment.json"), "SOLSENTRY_AUDITOR": "stub",
                "SOLSENTRY_DB_PATH": str(tmp_path / "jobs.sqlite"), "SOLSENTRY_POLL_INTERVAL_S": "0.2"})
    log = tmp_path / "node.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([EXE, "oracle", "run", *flags], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        client = AuditOracleClient(w3, d.audit_oracle)
        data = b'{"files":{"A.sol":"pragma solidity ^0.8.0; contract A {}"}}'
        request_id, _ = client.request_audit(w3.eth.accounts[2], keccak(data), inline=data)

        def alive() -> None:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]

        wait_for(lambda: client.get_request(request_id).state == RequestState.FINALIZED, 300,
                 "the request to be answered", interval=0.3, fail=alive)
        rid = "0x" + request_id.hex()
        if "-q" not in flags:
            wait_for(lambda: f"request {rid} confirmed" in log.read_text(errors="replace"), 120,
                     "the node to log its confirmation", fail=alive)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    return log.read_text(errors="replace"), address, d, rid


def test_run_reads_the_cli_keystore_and_logs_at_info_by_default(hardhat_node, tmp_path, password_file):
    text, address, d, rid = _run_node(hardhat_node, tmp_path, password_file)
    port = hardhat_node.url.rsplit(":", 1)[1]
    listening = re.search(rf"INFO oracle\.daemon: oracle node {address} listening: RPC http://127\.0\.0\.1:{port}, "
                          rf"chain id 31337, AuditOracle {d.audit_oracle}, from block {d.block} ", text)
    assert listening, text[-3000:]
    for line in (f"request {rid} received: source audit from ", f"request {rid} audited: ",
                 f"request {rid}: answer signed, submitting tx 0x", "INFO oracle.chain.txmanager: sent tx 0x",
                 f"request {rid} confirmed: transaction 0x"):
        assert line in text, f"{line!r} not in the log:\n{text[-3000:]}"
    assert " DEBUG " not in text
    _no_secrets(text)


def test_verbose_and_quiet(hardhat_node, tmp_path, password_file):
    verbose, *_ = _run_node(hardhat_node, tmp_path / "v", password_file, "-v")
    assert " DEBUG " in verbose and " listening: " in verbose
    _no_secrets(verbose)
    quiet, *_ = _run_node(hardhat_node, tmp_path / "q", password_file, "-q")
    assert " INFO " not in quiet and " DEBUG " not in quiet, quiet[-3000:]
