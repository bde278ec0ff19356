"""Typed bindings to the oracle contracts, read from Hardhat's artifacts.

The ABI and bytecode come from `artifacts/` (what `hardhat compile` wrote) in a project
checkout, else from the copies packaged in `oracle/chain/abi/` (kept equal to the artifacts by
`python -m oracle.chain.contracts --sync`, checked in tests).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from web3 import Web3
from web3.contract import Contract

from oracle.chain.signer import AuditResult, Domain
from oracle.errors import ArtifactError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGED = Path(__file__).resolve().parent / "abi"
ARTIFACTS = {
    "AuditOracle": "contracts/AuditOracle.sol/AuditOracle.json",
    "AuditedRegistry": "contracts/examples/AuditedRegistry.sol/AuditedRegistry.json",
}


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list
    bytecode: str


def load_artifact(name: str, artifacts_dir: Path | None = None) -> Artifact:
    if name not in ARTIFACTS:
        raise ArtifactError(f"unknown contract {name!r}")
    candidates = [(artifacts_dir or PROJECT_ROOT / "artifacts") / ARTIFACTS[name], PACKAGED / f"{name}.json"]
    for path in candidates:
        if path.is_file():
            data = json.loads(path.read_text())
            return Artifact(name, data["abi"], data["bytecode"])
    raise ArtifactError(f"no artifact for {name}: run `npx hardhat compile` (looked in "
                        f"{', '.join(str(c) for c in candidates)})")


class RequestState(IntEnum):
    NONE = 0
    OPEN = 1
    FINALIZED = 2
    CANCELLED = 3


class FulfillOutcome(IntEnum):
    FINALIZED = 0
    RECORDED = 1
    ALREADY_FINALIZED = 2
    NOT_OPEN = 3
    DUPLICATE_SIGNER = 4


@dataclass(frozen=True)
class RequestView:
    state: RequestState
    requester: str
    fee: int
    callback: str
    callback_gas_limit: int
    deadline: int
    output_hash: bytes
    status: int
    high: int
    medium: int
    callback_failed: bool


class AuditOracleClient:
    """The AuditOracle contract at `address`, with Python types in and out."""

    def __init__(self, w3: Web3, address: str, artifact: Artifact | None = None) -> None:
        self.w3 = w3
        self.artifact = artifact or load_artifact("AuditOracle")
        self.contract: Contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=self.artifact.abi)

    @property
    def address(self) -> str:
        return self.contract.address

    def domain(self) -> Domain:
        return Domain(self.w3.eth.chain_id, self.address)

    # ---- reads -------------------------------------------------------------------------
    def get_request(self, request_id: bytes) -> RequestView:
        r = self.contract.functions.getRequest(request_id).call()
        return RequestView(RequestState(r[0]), r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7], r[8], r[9], r[10])

    def result_digest(self, result: AuditResult) -> bytes:
        return bytes(self.contract.functions.resultDigest(result.as_tuple()).call())

    def verify(self, request_id: bytes, output: bytes) -> bool:
        return self.contract.functions.verify(request_id, output).call()

    def votes_for(self, request_id: bytes, digest: bytes) -> int:
        return self.contract.functions.votesFor(request_id, digest).call()

    def fee(self) -> int:
        return self.contract.functions.fee().call()

    def threshold(self) -> int:
        return self.contract.functions.threshold().call()

    def signers(self) -> list[str]:
        return list(self.contract.functions.signers().call())

    # ---- writes (from an unlocked node account; the daemon signs its own transactions) ---
    def request_audit(self, sender: str, input_hash: bytes, uri: str = "", inline: bytes = b"",
                      callback: str | None = None, callback_gas_limit: int = 0, deadline: int = 0,
                      value: int | None = None) -> tuple[bytes, dict]:
        deadline = deadline or self.w3.eth.get_block("latest")["timestamp"] + 3600
        fn = self.contract.functions.requestAudit(input_hash, uri, inline, callback or _ZERO, callback_gas_limit,
                                                  deadline)
        receipt = self._send(fn, sender, self.fee() if value is None else value)
        events = self.contract.events.AuditRequested().process_receipt(receipt)
        return bytes(events[0]["args"]["requestId"]), receipt

    def fulfill(self, sender: str, result: AuditResult, signature: bytes) -> dict:
        return self._send(self.contract.functions.fulfill(result.as_tuple(), signature), sender, 0)

    def _send(self, fn, sender: str, value: int) -> dict:
        tx_hash = fn.transact({"from": sender, "value": value})
        return self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)


_ZERO = "0x0000000000000000000000000000000000000000"


def sync_packaged(artifacts_dir: Path | None = None) -> list[Path]:
    """Copy ABI and bytecode of every contract from the artifacts into the package."""
    PACKAGED.mkdir(exist_ok=True)
    written = []
    for name in ARTIFACTS:
        path = (artifacts_dir or PROJECT_ROOT / "artifacts") / ARTIFACTS[name]
        if not path.is_file():
            raise ArtifactError(f"missing artifact {path}: run `npx hardhat compile` first")
        data = json.loads(path.read_text())
        out = PACKAGED / f"{name}.json"
        out.write_text(json.dumps({"contractName": name, "abi": data["abi"], "bytecode": data["bytecode"]},
                                  indent=1) + "\n")
        written.append(out)
    return written


if __name__ == "__main__":
    if sys.argv[1:] == ["--sync"]:
        for p in sync_packaged():
            print(f"wrote {p}")
    else:
        sys.exit("usage: python -m oracle.chain.contracts --sync")
