"""The whole oracle loop on a local chain, for `make demo`.

Starts a Hardhat node, deploys the contracts, starts an oracle node (a fresh key in an encrypted
keystore), submits an audit request for a bundled vulnerable contract, waits for the on-chain
result, fetches the report by its hash, checks it against the chain, prints it, and stops
everything. Run: python -m oracle.demo [CONTRACT.sol]
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eth_utils import keccak

from auditor.config import PROJECT_ROOT
from oracle.chain import node as chain_node
from oracle.chain.contracts import AuditOracleClient
from oracle.chain.deploy import deploy
from oracle.chain.rpc import web3_for
from oracle.config import OracleSettings
from oracle.requests import build_input, wait_for_result


def main(contract: Path) -> int:
    work = Path(tempfile.mkdtemp(prefix="solsentry-demo-"))
    settings = OracleSettings(chain_dir=work / "chain")
    info, _ = chain_node.start(settings, port=0)   # a free port, bound by the node itself
    daemon = None
    solsentry = str(Path(sys.executable).parent / "solsentry")
    try:
        print(f"1. Hardhat node at {info.url} (pid {info.pid})")
        # As an operator would: the password in a file only the user can read, the key made by the CLI.
        password_file = work / "keystore-password"
        password_file.touch(mode=0o600)
        password_file.write_text(secrets.token_urlsafe(16) + "\n")
        made = subprocess.run([solsentry, "oracle", "keystore", "create", "--keystore", str(work / "keystore.json"),
                               "--password-file", str(password_file)], capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
        if made.returncode != 0:
            raise SystemExit(f"solsentry oracle keystore create failed: {made.stderr.strip()}")
        node_address = made.stdout.strip()
        w3 = web3_for(info.url)
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": w3.eth.accounts[0], "to": node_address, "value": 10**19}))
        d = deploy(info.url, signers=[node_address], threshold=1, fee=10**15)
        d.save(work / "deployment.json")
        print(f"2. AuditOracle at {d.audit_oracle}, signer {node_address} (key in an encrypted keystore)")
        env = {**os.environ, "SOLSENTRY_KEYSTORE_PASSWORD_FILE": str(password_file),
               "SOLSENTRY_DEPLOYMENT": str(work / "deployment.json"),
               "SOLSENTRY_KEYSTORE_FILE": str(work / "keystore.json"), "SOLSENTRY_DB_PATH": str(work / "jobs.sqlite"),
               "SOLSENTRY_POLL_INTERVAL_S": "0.5", "SOLSENTRY_AUDIT_TOOLS": '["slither"]'}
        log = open(work / "oracle.log", "wb")  # noqa: SIM115 (kept open for the daemon's lifetime)
        daemon = subprocess.Popen([solsentry, "oracle", "run"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        print(f"3. oracle node running (pid {daemon.pid}, log {work / 'oracle.log'})")
        client = AuditOracleClient(w3, d.audit_oracle)
        data = build_input(contract)
        started = time.monotonic()
        request_id, receipt = client.request_audit(w3.eth.accounts[2], keccak(data), inline=data)
        print(f"4. requested an audit of {contract.name}: request 0x{request_id.hex()} "
              f"(block {receipt['blockNumber']})")
        view = wait_for_result(client, request_id, timeout=600)
        print(f"5. finalized on chain after {time.monotonic() - started:.1f} s: status {view.status}, "
              f"high {view.high}, medium {view.medium}, output hash 0x{view.output_hash.hex()}")
        out = subprocess.run([solsentry, "oracle", "output", "0x" + view.output_hash.hex()], env=env,
                             capture_output=True, timeout=60)
        report_bytes = out.stdout[:-1]
        ok = keccak(report_bytes) == view.output_hash and client.verify(request_id, report_bytes)
        print(f"6. fetched the report by its hash ({len(report_bytes)} bytes); keccak256 matches and "
              f"verify() on chain says {ok}")
        from rich.console import Console

        from auditor.report.model import Report
        from auditor.report.terminal import render_summary

        render_summary(Report.model_validate(json.loads(report_bytes)), Console())
        return 0 if ok else 1
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
        chain_node.stop(settings)
        print("7. stopped the oracle node and the chain")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT / "examples" / "EtherBank.sol"
    sys.exit(main(target))
