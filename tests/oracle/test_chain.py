"""Against a real Hardhat node: deploy, request, Python signs, the contract accepts; the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError

from oracle.chain.contracts import AuditOracleClient, FulfillOutcome, RequestState, load_artifact
from oracle.chain.deploy import deploy
from oracle.chain.signer import AuditResult, ResultSigner, digest

ROOT = Path(__file__).resolve().parents[2]
NODE_KEY = keccak(text="solsentry test: node key")


def test_python_signature_is_accepted_on_chain(hardhat_node):
    signer = ResultSigner(NODE_KEY)
    d = deploy(hardhat_node.url, signers=[signer.address], threshold=1, fee=10**15)
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    oracle = AuditOracleClient(w3, d.audit_oracle)
    requester, relayer = w3.eth.accounts[2], w3.eth.accounts[3]
    report = b'{"schema":"solsentry.report/1","findings":[]}'
    request_id, receipt = oracle.request_audit(requester, keccak(b"input"), uri="ipfs://bafy-example-input")
    assert receipt["status"] == 1
    assert oracle.get_request(request_id).state == RequestState.OPEN

    result = AuditResult(request_id, keccak(report), keccak(text="model"), 0, 0, 1)
    assert oracle.result_digest(result) == digest(oracle.domain(), result)
    receipt = oracle.fulfill(relayer, result, signer.sign(oracle.domain(), result))
    assert receipt["status"] == 1
    view = oracle.get_request(request_id)
    assert view.state == RequestState.FINALIZED and view.output_hash == keccak(report) and view.medium == 1
    assert oracle.verify(request_id, report) and not oracle.verify(request_id, report + b" ")
    # A second, identical fulfilment is answered, not reverted.
    again = oracle.contract.functions.fulfill(result.as_tuple(), signer.sign(oracle.domain(), result)).call(
        {"from": relayer})
    assert again == FulfillOutcome.ALREADY_FINALIZED


def test_signature_for_another_contract_is_rejected(hardhat_node):
    signer = ResultSigner(NODE_KEY)
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    a = AuditOracleClient(w3, deploy(hardhat_node.url, signers=[signer.address]).audit_oracle)
    b = AuditOracleClient(w3, deploy(hardhat_node.url, signers=[signer.address]).audit_oracle)
    request_id, _ = a.request_audit(w3.eth.accounts[2], keccak(b"x"), uri="https://example.org/input.zip")
    result = AuditResult(request_id, keccak(b"r"), bytes(32))
    wrong = signer.sign(b.domain(), result)
    # Signed for contract b: recovers some other address, which is not a signer of a.
    with pytest.raises(ContractLogicError, match="AuditOracle__UnauthorizedSigner"):
        a.contract.functions.fulfill(result.as_tuple(), wrong).call({"from": w3.eth.accounts[3]})
    assert a.get_request(request_id).state == RequestState.OPEN


def test_packaged_abi_matches_artifacts(artifacts):
    for name in ("AuditOracle", "AuditedRegistry"):
        built = json.loads((artifacts / load_artifact.__globals__["ARTIFACTS"][name]).read_text())
        packaged = json.loads((ROOT / "oracle" / "chain" / "abi" / f"{name}.json").read_text())
        assert packaged["abi"] == built["abi"], f"run: .venv/bin/python -m oracle.chain.contracts --sync ({name})"
        assert packaged["bytecode"] == built["bytecode"], f"stale bytecode for {name}: re-sync"


def test_chain_cli_up_deploy_down(tmp_path, artifacts):
    import re

    env = {**os.environ, "SOLSENTRY_CHAIN_DIR": str(tmp_path)}
    exe = str(Path(sys.executable).parent / "solsentry")
    # Port 0: the node binds a free port itself; `chain up` prints the URL it got.
    up = subprocess.run([exe, "chain", "up", "--port", "0"], capture_output=True, text=True, env=env, timeout=120)
    port = (re.search(r"http://127\.0\.0\.1:(\d+)", up.stdout) or [None, "0"])[1]
    try:
        assert up.returncode == 0, up.stderr
        assert port != "0" and f"http://127.0.0.1:{port}" in up.stdout and "pid" in up.stdout
        again = subprocess.run([exe, "chain", "up", "--port", port], capture_output=True, text=True, env=env)
        assert "already running" in again.stdout
        dep = subprocess.run([exe, "chain", "deploy"], capture_output=True, text=True, env=env, timeout=120)
        assert dep.returncode == 0, dep.stderr
        data = json.loads((tmp_path / "deployment.json").read_text())
        assert Web3.is_checksum_address(data["audit_oracle"]) and data["chain_id"] == 31337
    finally:
        down = subprocess.run([exe, "chain", "down"], capture_output=True, text=True, env=env, timeout=60)
    assert down.returncode == 0 and "stopped pid" in down.stdout
    gone = subprocess.run([exe, "chain", "deploy", "--rpc", f"http://127.0.0.1:{port}"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert gone.returncode == 2 and "no Ethereum node answers" in gone.stderr
