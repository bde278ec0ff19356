"""Deploying AuditOracle (and the example AuditedRegistry) and recording the addresses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from web3 import Web3

from oracle.chain.contracts import load_artifact
from oracle.chain.rpc import web3_for
from oracle.errors import ChainError


@dataclass
class Deployment:
    chain_id: int
    rpc_url: str
    deployer: str
    audit_oracle: str
    audited_registry: str | None
    block: int
    signers: list[str]
    threshold: int
    fee: int
    extra: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise ChainError(f"no deployment file at {path}: run `solsentry chain deploy` first") from None
        except (ValueError, TypeError) as exc:
            raise ChainError(f"{path} is not a SolSentry deployment file: {exc}") from None


def connect(url: str) -> Web3:
    w3 = web3_for(url, timeout=30)
    if not w3.is_connected():
        raise ChainError(f"no Ethereum node answers at {url} (start one with `solsentry chain up`)")
    return w3


def _deploy(w3: Web3, name: str, deployer: str, *args) -> tuple[str, int]:
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    tx = factory.constructor(*args).transact({"from": deployer})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=60)
    if receipt["status"] != 1:
        raise ChainError(f"deploying {name} reverted (tx {tx.hex()})")
    return receipt["contractAddress"], receipt["blockNumber"]


def deploy(url: str, signers: list[str] | None = None, threshold: int = 1, fee: int = 0,
           deployer: str | None = None, registry: bool = True) -> Deployment:
    """Deploy from an unlocked account of the node (Hardhat's first account by default)."""
    w3 = connect(url)
    accounts = w3.eth.accounts
    if not accounts and deployer is None:
        raise ChainError(f"the node at {url} has no unlocked account to deploy from")
    deployer = Web3.to_checksum_address(deployer or accounts[0])
    # Default signer: Hardhat's second account, so the owner and the node key differ.
    signer_list = [Web3.to_checksum_address(s) for s in (signers or [accounts[1 if len(accounts) > 1 else 0]])]
    if not 1 <= threshold <= len(signer_list):
        raise ChainError(f"threshold {threshold} must be between 1 and the number of signers ({len(signer_list)})")
    oracle, block = _deploy(w3, "AuditOracle", deployer, deployer, signer_list, threshold, fee)
    registry_address = _deploy(w3, "AuditedRegistry", deployer, oracle)[0] if registry else None
    return Deployment(w3.eth.chain_id, url, deployer, oracle, registry_address, block, signer_list, threshold, fee)
