"""Error types of the chain layer (the tx manager, the retrying RPC, revert decoding)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oracle.errors import ChainError, OracleError

if TYPE_CHECKING:
    from oracle.chain.sent import SentTx


class SimulationError(OracleError):
    """The call reverts (in `eth_call` or gas estimation): sending it would only burn gas."""

    def __init__(self, message: str, *, error_name: str | None = None, error_args: tuple = (),
                 data: str | None = None) -> None:
        super().__init__(message)
        self.error_name = error_name  # e.g. "AuditOracle__UnknownRequest", "Error", "Panic"
        self.error_args = error_args
        self.data = data  # raw revert data, 0x-hex


class FeeCapError(OracleError):
    """The fees the transaction needs exceed `max_fee_cap_wei`; nothing was signed or sent."""


class TxRejected(OracleError):
    """The node refused a signed transaction (underpriced, insufficient funds, ...). Permanent.
    `tx_hash`/`nonce` name it; it was passed to `on_signed` but is NOT on the network."""

    def __init__(self, message: str, *, tx_hash: str, nonce: int) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash
        self.nonce = nonce


class NonceConsumed(OracleError):
    """A bump found its nonce already used (the original, or another transaction, was mined
    meanwhile). `sent` is the replacement that was signed; `status(sent)` tells which case."""

    def __init__(self, message: str, sent: SentTx) -> None:
        super().__init__(message)
        self.sent = sent


class TxSkipped(OracleError):
    """`send(..., skip_if=...)` found no transaction needed; `result` is the simulated return value."""

    def __init__(self, result: Any) -> None:
        super().__init__(f"no transaction needed (simulation returned {result!r})")
        self.result = result


class RpcUnavailable(ChainError):
    """A transient RPC failure persisted through all retries."""


__all__ = ["ChainError", "FeeCapError", "NonceConsumed", "RpcUnavailable", "SimulationError", "TxRejected",
           "TxSkipped"]
