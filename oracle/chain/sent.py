"""What the tx manager hands back: a signed transaction (`SentTx`), its status, a resync's result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak
from hexbytes import HexBytes

from oracle.errors import ChainError


# ---- values -------------------------------------------------------------------------------
class TxStatus(StrEnum):
    PENDING = "pending"    # the node has it, not mined yet (bump it if it is stuck)
    MINED = "mined"        # it, or an earlier version with the same nonce (`replaces`), is mined
    REPLACED = "replaced"  # its nonce was used by another transaction: send the call again
    DROPPED = "dropped"    # the node forgot it and its nonce is still free: `rebroadcast(sent.raw)`


@dataclass(frozen=True)
class SentTx:
    tx_hash: str  # 0x-hex, lower case
    nonce: int
    raw: bytes = field(repr=False)
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    # Hashes of the earlier versions (same nonce, lower fees) that this one replaces, newest first.
    replaces: tuple[str, ...] = ()
    # What the simulation returned (None for a transaction rebuilt from its raw bytes).
    result: Any = None

    @property
    def hashes(self) -> tuple[str, ...]:
        return (self.tx_hash, *self.replaces)

    @classmethod
    def from_raw(cls, raw: bytes, replaces: Iterable[str] = ()) -> SentTx:
        """Rebuild from stored raw bytes (after a restart): hash, nonce, gas and fees are read back."""
        try:
            tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        except Exception:
            raise ChainError("stored raw transaction is not an EIP-1559 (type 2) transaction") from None
        if tx.get("type") != 2:
            raise ChainError(f"stored raw transaction has type {tx.get('type')}, expected 2 (EIP-1559)")
        return cls(hex0x(keccak(bytes(raw))), int(tx["nonce"]), bytes(raw), int(tx["gas"]), int(tx["maxFeePerGas"]),
                   int(tx["maxPriorityFeePerGas"]), tuple(replaces))


@dataclass(frozen=True)
class ResyncResult:
    next_nonce: int
    # Our transactions whose nonce another transaction took (external use of the key): send again.
    lost: list[SentTx]
    # Our transactions the node had forgotten, broadcast again by resync (still pending).
    rebroadcast: list[SentTx]


def hex0x(value: bytes | str) -> str:
    return value.lower() if isinstance(value, str) else "0x" + bytes(value).hex()


def norm_hash(tx_hash: str | bytes) -> str:
    h = hex0x(tx_hash)
    return h if h.startswith("0x") else "0x" + h


__all__ = ["ResyncResult", "SentTx", "TxStatus", "hex0x", "norm_hash"]
