"""EIP-712 signing of audit results, byte for byte what `AuditOracle` verifies.

Typed data: domain {name: "SolSentry AuditOracle", version: "1", chainId, verifyingContract},
primary type AuditResult(bytes32 requestId,bytes32 outputHash,bytes32 modelHash,uint8 status,
uint8 high,uint8 medium). Signatures are 65 bytes r || s || v with v in {27, 28} and low s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import keccak, to_checksum_address

from oracle.errors import SignerError

DOMAIN_NAME = "SolSentry AuditOracle"
DOMAIN_VERSION = "1"
AUDIT_RESULT_TYPE = [
    {"name": "requestId", "type": "bytes32"},
    {"name": "outputHash", "type": "bytes32"},
    {"name": "modelHash", "type": "bytes32"},
    {"name": "status", "type": "uint8"},
    {"name": "high", "type": "uint8"},
    {"name": "medium", "type": "uint8"},
]
TYPE_STRING = "AuditResult(bytes32 requestId,bytes32 outputHash,bytes32 modelHash,uint8 status,uint8 high,uint8 medium)"
TYPEHASH = keccak(text=TYPE_STRING)


@dataclass(frozen=True)
class AuditResult:
    request_id: bytes
    output_hash: bytes
    model_hash: bytes
    status: int = 0
    high: int = 0
    medium: int = 0

    def __post_init__(self) -> None:
        for name in ("request_id", "output_hash", "model_hash"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 32:
                raise SignerError(f"{name} must be 32 bytes")
        for name in ("status", "high", "medium"):
            if not 0 <= getattr(self, name) <= 255:
                raise SignerError(f"{name} must fit in uint8")

    def message(self) -> dict:
        return {"requestId": self.request_id, "outputHash": self.output_hash, "modelHash": self.model_hash,
                "status": self.status, "high": self.high, "medium": self.medium}

    def as_tuple(self) -> tuple:
        """The Solidity struct as web3 encodes it."""
        return (self.request_id, self.output_hash, self.model_hash, self.status, self.high, self.medium)

    def to_json(self) -> dict:
        d = asdict(self)
        return {"requestId": "0x" + d["request_id"].hex(), "outputHash": "0x" + d["output_hash"].hex(),
                "modelHash": "0x" + d["model_hash"].hex(), "status": self.status, "high": self.high,
                "medium": self.medium}

    @classmethod
    def from_json(cls, d: dict) -> AuditResult:
        return cls(bytes.fromhex(d["requestId"][2:]), bytes.fromhex(d["outputHash"][2:]),
                   bytes.fromhex(d["modelHash"][2:]), int(d["status"]), int(d["high"]), int(d["medium"]))


@dataclass(frozen=True)
class Domain:
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict:
        return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": self.chain_id,
                "verifyingContract": to_checksum_address(self.verifying_contract)}


def _signable(domain: Domain, result: AuditResult):
    return encode_typed_data(domain.as_dict(), {"AuditResult": AUDIT_RESULT_TYPE}, result.message())


def digest(domain: Domain, result: AuditResult) -> bytes:
    """keccak256("\\x19\\x01" || domainSeparator || hashStruct(result)): what the contract recovers from."""
    return bytes(_hash_eip191_message(_signable(domain, result)))


class ResultSigner:
    """Signs results with one node key. The key never appears in reprs, logs or errors."""

    def __init__(self, private_key: bytes | str) -> None:
        try:
            self._account = Account.from_key(private_key)
        except Exception as exc:  # eth_account raises several types for a bad key
            raise SignerError("invalid private key") from exc

    def __repr__(self) -> str:
        return f"ResultSigner({self.address})"

    @property
    def address(self) -> str:
        return self._account.address

    def sign(self, domain: Domain, result: AuditResult) -> bytes:
        signed = self._account.sign_message(_signable(domain, result))
        return bytes(signed.signature)


def recover(domain: Domain, result: AuditResult, signature: bytes) -> str:
    return Account.recover_message(_signable(domain, result), signature=signature)
