"""Transactions of ONE wallet: nonces, simulation, EIP-1559 fees, write-ahead signing, fee bumps.

How a send goes (`TxManager.send`):
1. simulate: `fn.call({"from": wallet})`; a revert raises `SimulationError` (with the custom error
   name) and nothing is signed. The simulated return value is kept (`SentTx.result`); pass
   `skip_if` to stop when it says no transaction is needed (`TxSkipped`), e.g. a fulfil whose
   outcome is ALREADY_FINALIZED (see `fulfill_not_needed`, `simulate_fulfill`);
2. estimate gas (+ `gas_margin`), price it: tip = `max_priority_fee_wei`, maxFeePerGas =
   min(`max_fee_cap_wei`, 2 * baseFee + tip); a base fee above the cap raises `FeeCapError`;
3. under the wallet's lock: take the next nonce (max(chain pending count, last handed out + 1)),
   sign locally, call `on_signed(tx_hash, nonce, raw)` (the caller persists it: write-ahead),
   then broadcast. A node answering "already known", or "nonce too low" for a transaction it
   already has, counts as success, so re-broadcasting the same bytes is always harmless.

Only transient RPC failures (connection refused/reset, timeouts, HTTP 429/5xx) are retried, with
exponential backoff (`rpc_retries`, `rpc_backoff_s`); reverts and rejections are raised at once.
The key and raw transactions are never logged.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any, TypeVar

import requests
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import function_abi_to_4byte_selector, keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from oracle.chain.contracts import FulfillOutcome
from oracle.config import OracleSettings
from oracle.errors import ChainError, OracleError

log = logging.getLogger(__name__)

T = TypeVar("T")
OnSigned = Callable[[str, int, bytes], Any]


# ---- errors -------------------------------------------------------------------------------
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
        return cls(_hex(keccak(bytes(raw))), int(tx["nonce"]), bytes(raw), int(tx["gas"]), int(tx["maxFeePerGas"]),
                   int(tx["maxPriorityFeePerGas"]), tuple(replaces))


@dataclass(frozen=True)
class ResyncResult:
    next_nonce: int
    # Our transactions whose nonce another transaction took (external use of the key): send again.
    lost: list[SentTx]
    # Our transactions the node had forgotten, broadcast again by resync (still pending).
    rebroadcast: list[SentTx]


# Fulfilment outcomes that mean "no transaction needed" (the call would not revert, just do nothing).
FULFILL_NOT_NEEDED = frozenset({FulfillOutcome.ALREADY_FINALIZED, FulfillOutcome.NOT_OPEN,
                                FulfillOutcome.DUPLICATE_SIGNER})


def fulfill_not_needed(result: Any) -> bool:
    """`skip_if` for a `fulfill` call: True when the simulated outcome says sending is pointless."""
    return FulfillOutcome(int(result)) in FULFILL_NOT_NEEDED


# ---- transient errors ---------------------------------------------------------------------
_TRANSIENT_TEXT = ("connection refused", "connection reset", "connection aborted", "timed out", "timeout",
                   "temporarily unavailable", "too many requests", "bad gateway", "service unavailable",
                   "gateway timeout", "rate limit")


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: the endpoint is unreachable, slow, or overloaded."""
    if isinstance(exc, RpcUnavailable):
        return True
    if isinstance(exc, requests.HTTPError):
        code = exc.response.status_code if exc.response is not None else None
        return code is not None and (code == 429 or code >= 500)
    if isinstance(exc, requests.ConnectionError | requests.Timeout | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, ContractLogicError):
        return False
    if isinstance(exc, Web3RPCError):  # JSON-RPC errors: only rate limiting / overload is worth a retry
        return any(t in str(exc).lower() for t in ("rate limit", "too many requests", "service unavailable"))
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError):
        return any(t in str(exc).lower() for t in _TRANSIENT_TEXT)
    return False


# ---- revert decoding ----------------------------------------------------------------------
_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")


def _revert_data(exc: ContractLogicError) -> str | None:
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    return data if isinstance(data, str) and data.startswith("0x") else None


def _decode_revert(exc: ContractLogicError, abi: list[dict]) -> SimulationError:
    data_hex = _revert_data(exc)
    data = bytes.fromhex(data_hex[2:]) if data_hex else b""
    selector, body = data[:4], data[4:]
    try:
        if selector == _ERROR_STRING:
            (reason,) = abi_decode(["string"], body)
            return SimulationError(f"simulation reverted: {reason}", error_name="Error", error_args=(reason,),
                                   data=data_hex)
        if selector == _PANIC:
            (code,) = abi_decode(["uint256"], body)
            return SimulationError(f"simulation reverted: Panic(0x{code:02x})", error_name="Panic",
                                   error_args=(code,), data=data_hex)
        for item in abi:
            if item.get("type") == "error" and function_abi_to_4byte_selector(item) == selector:
                types = [_abi_type(i) for i in item.get("inputs", [])]
                values = abi_decode(types, body)
                shown = ", ".join(f"{i.get('name') or '_'}={_show(v)}" for i, v in zip(item["inputs"], values,
                                                                                         strict=True))
                return SimulationError(f"simulation reverted: {item['name']}({shown})", error_name=item["name"],
                                       error_args=tuple(values), data=data_hex)
    except Exception:  # undecodable data: fall back to the node's message
        pass
    message = str(exc.message or exc).removeprefix("execution reverted: ")
    return SimulationError(f"simulation reverted: {message or 'no reason given'}", data=data_hex)


def _abi_type(param: dict) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + param["type"][5:]
    return param["type"]


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def _hex(value: bytes | str) -> str:
    return value.lower() if isinstance(value, str) else "0x" + bytes(value).hex()


def _norm_hash(tx_hash: str | bytes) -> str:
    h = _hex(tx_hash)
    return h if h.startswith("0x") else "0x" + h


# ---- the manager --------------------------------------------------------------------------
class TxManager:
    """Sends the transactions of one wallet (`account`: eth_account LocalAccount or
    oracle.keystore.NodeAccount). Thread-safe: one lock covers nonce choice, signing, the
    `on_signed` callback and the broadcast, so the node sees nonces in order and gaps cannot form.
    Nothing else may send from this key while the manager runs, or call `resync()` after it did."""

    def __init__(self, w3: Web3, account, settings: OracleSettings) -> None:
        self.w3 = w3
        self.account = account
        self.settings = settings
        self.address: str = to_checksum_address(account.address)
        self._lock = threading.Lock()
        self._next: int | None = None  # highest nonce handed out + 1
        self._inflight: dict[int, SentTx] = {}  # latest version per nonce, until seen mined or lost
        self._chain_id: int | None = None

    def __repr__(self) -> str:
        return f"TxManager({self.address})"

    # ---- RPC with retries ---------------------------------------------------------------
    def _rpc(self, what: str, call: Callable[[], T]) -> T:
        attempts = self.settings.rpc_retries + 1
        for attempt in range(attempts):
            try:
                return call()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt + 1 == attempts:
                    raise RpcUnavailable(f"{what}: RPC unavailable after {attempts} tries "
                                         f"({type(exc).__name__})") from exc
                delay = self.settings.rpc_backoff_s * 2**attempt
                log.warning("%s: transient RPC error (%s); retry %d/%d in %.2f s", what, type(exc).__name__,
                            attempt + 1, attempts - 1, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._rpc("eth_chainId", lambda: self.w3.eth.chain_id)
        return self._chain_id

    def balance(self) -> int:
        """The wallet's balance in wei (for metrics and low-funds warnings)."""
        return self._rpc("eth_getBalance", lambda: self.w3.eth.get_balance(self.address))

    def _count(self, block: str) -> int:
        return self._rpc("eth_getTransactionCount", lambda: self.w3.eth.get_transaction_count(self.address, block))

    def receipt(self, tx_hash: str | bytes) -> dict | None:
        """The receipt, or None while the transaction is pending or unknown."""
        h = _norm_hash(tx_hash)
        try:
            return dict(self._rpc("eth_getTransactionReceipt", lambda: self.w3.eth.get_transaction_receipt(h)))
        except TransactionNotFound:
            return None

    def _known(self, tx_hash: str) -> bool:
        try:
            self._rpc("eth_getTransactionByHash", lambda: self.w3.eth.get_transaction(tx_hash))
            return True
        except TransactionNotFound:
            return False

    # ---- simulation, gas, fees ----------------------------------------------------------
    def _params(self, value: int) -> dict:
        return {"from": self.address, "value": value} if value else {"from": self.address}

    def simulate(self, fn, value: int = 0) -> Any:
        """`fn.call` from this wallet: the return value, or `SimulationError` on a revert."""
        params = self._params(value)
        try:
            return self._rpc("eth_call", lambda: fn.call(params))
        except ContractLogicError as exc:
            raise _decode_revert(exc, fn.contract_abi) from None

    def _estimate(self, fn, value: int) -> int:
        params = self._params(value)
        try:
            estimate = self._rpc("eth_estimateGas", lambda: fn.estimate_gas(params))
        except ContractLogicError as exc:
            raise _decode_revert(exc, fn.contract_abi) from None
        return math.ceil(estimate * (1 + self.settings.gas_margin))

    def base_fee(self) -> int:
        block = self._rpc("eth_getBlockByNumber", lambda: self.w3.eth.get_block("latest"))
        base = block.get("baseFeePerGas")
        if base is None:
            raise ChainError("the chain has no EIP-1559 base fee (pre-London); legacy gas pricing is not supported")
        return int(base)

    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a new transaction now; `FeeCapError` when the
        base fee is above the cap."""
        base, cap = self.base_fee(), self.settings.max_fee_cap_wei
        if base > cap:
            raise FeeCapError(f"base fee {base} wei is above the fee cap {cap} wei (max_fee_cap_wei): "
                              f"not sending; raise SOLSENTRY_MAX_FEE_CAP_WEI or wait for cheaper blocks")
        max_fee = min(cap, 2 * base + self.settings.max_priority_fee_wei)
        return max_fee, min(self.settings.max_priority_fee_wei, max_fee)

    def _bumped_fees(self, sent: SentTx) -> tuple[int, int]:
        factor = 1 + Fraction(str(self.settings.fee_bump_percent)) / 100
        min_max = max(math.ceil(sent.max_fee_per_gas * factor), sent.max_fee_per_gas + 1)
        min_tip = max(math.ceil(sent.max_priority_fee_per_gas * factor), sent.max_priority_fee_per_gas + 1)
        cap = self.settings.max_fee_cap_wei
        if min_max > cap:
            raise FeeCapError(f"cannot bump tx {sent.tx_hash} (nonce {sent.nonce}): a replacement needs "
                              f"maxFeePerGas >= {min_max} wei, above the fee cap {cap} wei (max_fee_cap_wei)")
        tip = max(min_tip, self.settings.max_priority_fee_wei)
        max_fee = min(cap, max(min_max, 2 * self.base_fee() + tip))
        return max_fee, min(tip, max_fee)

    # ---- nonces -------------------------------------------------------------------------
    def _allocate(self) -> int:
        nonce = max(self._count("pending"), self._next or 0)
        self._next = nonce + 1
        return nonce

    def _release(self, nonce: int) -> None:
        """Give back the nonce of a transaction that never reached the network (only the latest)."""
        if self._next == nonce + 1:
            self._next = nonce

    def next_nonce(self) -> int:
        """The nonce the next `send` would use (without taking it)."""
        with self._lock:
            return max(self._count("pending"), self._next or 0)

    # ---- signing and broadcasting -------------------------------------------------------
    def _sign(self, fn, value: int, nonce: int, gas: int, max_fee: int, tip: int, result: Any,
              replaces: tuple[str, ...] = ()) -> SentTx:
        tx = fn.build_transaction({**self._params(value), "nonce": nonce, "gas": gas, "maxFeePerGas": max_fee,
                                   "maxPriorityFeePerGas": tip, "chainId": self.chain_id, "type": 2})
        signed = self.account.sign_transaction(tx)
        raw = bytes(signed.raw_transaction)
        return SentTx(_hex(keccak(raw)), nonce, raw, gas, max_fee, tip, replaces, result)

    def _broadcast(self, sent: SentTx) -> bool:
        """Send the raw bytes. True when the node has (or had) this very transaction; False when
        its nonce is already used by another one. Raises `TxRejected` for other refusals."""
        try:
            self._rpc("eth_sendRawTransaction", lambda: self.w3.eth.send_raw_transaction(sent.raw))
            return True
        except (Web3RPCError, ValueError) as exc:
            text = str(getattr(exc, "message", None) or exc)
            low = text.lower()
            if any(s in low for s in ("already known", "known transaction", "alreadyknown", "already imported",
                                      "already exists", "already in the mempool")):
                return True
            if "nonce too low" in low or "nonce is too low" in low or "oldnonce" in low or "already been used" in low:
                return self.receipt(sent.tx_hash) is not None or self._known(sent.tx_hash)
            raise TxRejected(f"the node rejected tx {sent.tx_hash} (nonce {sent.nonce}): {text[:300]}",
                             tx_hash=sent.tx_hash, nonce=sent.nonce) from None

    def send(self, fn, *, on_signed: OnSigned, value: int = 0,
             skip_if: Callable[[Any], bool] | None = None) -> SentTx:
        """Simulate, price, sign, `on_signed(tx_hash, nonce, raw)`, broadcast; returns the `SentTx`.

        Raises `SimulationError` (revert), `TxSkipped` (`skip_if(result)` was true), `FeeCapError`,
        `TxRejected` (the node refused it; its nonce is given back), `RpcUnavailable` (the endpoint
        stayed down: the transaction may or may not have arrived; it is tracked, `resync()` or
        `rebroadcast(raw)` later). If `on_signed` raises, nothing is broadcast.
        """
        result = self.simulate(fn, value)
        if skip_if is not None and skip_if(result):
            raise TxSkipped(result)
        gas = self._estimate(fn, value)
        max_fee, tip = self.fees()
        with self._lock:
            for _ in range(3):
                nonce = self._allocate()
                sent = self._sign(fn, value, nonce, gas, max_fee, tip, result)
                try:
                    on_signed(sent.tx_hash, nonce, sent.raw)
                except BaseException:
                    self._release(nonce)
                    raise
                try:
                    ok = self._broadcast(sent)
                except TxRejected:
                    self._release(nonce)
                    raise
                except RpcUnavailable:
                    self._inflight[nonce] = sent
                    raise
                if ok:
                    self._inflight[nonce] = sent
                    log.info("sent tx %s nonce %d gas %d maxFee %d tip %d", sent.tx_hash, nonce, gas, max_fee, tip)
                    return sent
                # Our nonce was taken by a transaction sent outside this manager: forget our count.
                log.warning("nonce %d of %s was already used outside this node; taking a fresh nonce",
                            nonce, self.address)
                self._next = None
            raise ChainError(f"could not get a free nonce for {self.address}: another sender keeps using this key")

    def bump(self, sent: SentTx | bytes, fn, *, on_signed: OnSigned, value: int = 0) -> SentTx:
        """Replace a stuck transaction: the same call, the SAME nonce, both fees raised by at least
        `fee_bump_percent` (within the cap, else `FeeCapError`). `sent` may be the stored raw
        bytes. `on_signed` is called with the new hash before the broadcast, and once more with
        `sent` when the replacement did not reach the network (`TxRejected`, `NonceConsumed`), so
        the caller's record names a transaction that exists. Raises `SimulationError` if the call
        now reverts, `NonceConsumed` if the nonce got mined meanwhile (`status(exc.sent)` tells
        whether by our earlier version: MINED, or by another transaction: REPLACED)."""
        if not isinstance(sent, SentTx):
            sent = SentTx.from_raw(sent)
        result = self.simulate(fn, value)
        gas = max(sent.gas, self._estimate(fn, value))
        max_fee, tip = self._bumped_fees(sent)
        with self._lock:
            new = self._sign(fn, value, sent.nonce, gas, max_fee, tip, result, replaces=sent.hashes)
            on_signed(new.tx_hash, new.nonce, new.raw)
            try:
                ok = self._broadcast(new)
            except TxRejected:
                # The replacement is not on the network: point the caller's record back at the original.
                on_signed(sent.tx_hash, sent.nonce, sent.raw)
                raise
            if not ok:
                on_signed(sent.tx_hash, sent.nonce, sent.raw)
                self._inflight.pop(sent.nonce, None)
                raise NonceConsumed(f"nonce {sent.nonce} was used before the bump of {sent.tx_hash} landed", new)
            self._inflight[new.nonce] = new
            self._next = max(self._next or 0, new.nonce + 1)
        log.info("bumped tx %s -> %s nonce %d maxFee %d tip %d", sent.tx_hash, new.tx_hash, new.nonce, max_fee, tip)
        return new

    def rebroadcast(self, raw: bytes) -> SentTx:
        """Broadcast stored raw bytes again (after a crash, or a dropped tx). Idempotent: a
        transaction the node already has, or that is already mined, is fine. Returns the decoded
        `SentTx`; check `status()` (REPLACED if its nonce was used by another transaction)."""
        sent = SentTx.from_raw(raw)
        sender = Account.recover_transaction(raw)
        if sender != self.address:
            raise ChainError(f"raw transaction {sent.tx_hash} is signed by {sender}, not by this node ({self.address})")
        with self._lock:
            if self._broadcast(sent):
                if self.receipt(sent.tx_hash) is None:
                    self._inflight[sent.nonce] = sent
                self._next = max(self._next or 0, sent.nonce + 1)
        log.info("re-broadcast tx %s nonce %d", sent.tx_hash, sent.nonce)
        return sent

    def track(self, sent: SentTx) -> None:
        """Watch a transaction signed before a restart (so `resync()` covers it)."""
        with self._lock:
            self._inflight[sent.nonce] = sent
            self._next = max(self._next or 0, sent.nonce + 1)

    # ---- status -------------------------------------------------------------------------
    def mined_receipt(self, sent: SentTx) -> dict | None:
        """The receipt of whichever version of `sent` (itself or one it replaces) was mined."""
        for h in sent.hashes:
            r = self.receipt(h)
            if r is not None:
                return r
        return None

    def status(self, sent: SentTx | bytes) -> TxStatus:
        """pending | mined | replaced | dropped (see `TxStatus`). `sent` may be stored raw bytes."""
        if not isinstance(sent, SentTx):
            sent = SentTx.from_raw(sent)
        if self.mined_receipt(sent) is not None:
            self._forget(sent)
            return TxStatus.MINED
        if self._count("latest") > sent.nonce:
            # Mined between the two calls, or the nonce went to another transaction.
            if self.mined_receipt(sent) is not None:
                self._forget(sent)
                return TxStatus.MINED
            return TxStatus.REPLACED
        return TxStatus.PENDING if self._known(sent.tx_hash) else TxStatus.DROPPED

    def _forget(self, sent: SentTx) -> None:
        with self._lock:
            current = self._inflight.get(sent.nonce)
            if current is not None and set(current.hashes) & set(sent.hashes):
                del self._inflight[sent.nonce]

    def resync(self) -> ResyncResult:
        """Re-read the chain after the key was used elsewhere (or after a restart): reports our
        transactions whose nonce another one took (`lost`: send those calls again), re-broadcasts
        the ones the node forgot, and sets the next nonce from the chain's pending count."""
        lost: list[SentTx] = []
        again: list[SentTx] = []
        with self._lock:
            latest = self._count("latest")
            for nonce in sorted(self._inflight):
                sent = self._inflight[nonce]
                if self.mined_receipt(sent) is not None:
                    del self._inflight[nonce]
                elif nonce < latest:
                    log.warning("tx %s lost its nonce %d to a transaction sent outside this node", sent.tx_hash, nonce)
                    lost.append(sent)
                    del self._inflight[nonce]
                elif not self._known(sent.tx_hash):
                    try:
                        ok = self._broadcast(sent)
                    except TxRejected as exc:
                        log.warning("dropped tx %s could not be re-broadcast: %s", sent.tx_hash, exc)
                        ok = False
                    if ok:
                        again.append(sent)
                        if self.mined_receipt(sent) is not None:
                            del self._inflight[nonce]
                    else:
                        lost.append(sent)
                        del self._inflight[nonce]
            pending = self._count("pending")
            self._next = max([pending, *(n + 1 for n in self._inflight)])
            result = ResyncResult(self._next, lost, again)
        log.info("nonce resync for %s: next nonce %d, %d lost, %d re-broadcast", self.address, result.next_nonce,
                 len(lost), len(again))
        return result

    def wait(self, sent: SentTx, timeout: float = 60.0, poll: float = 0.2) -> dict:
        """Block until a version of `sent` is mined; its receipt. `ChainError` if the nonce went to
        another transaction or on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status(sent)
            if st is TxStatus.MINED:
                receipt = self.mined_receipt(sent)
                if receipt is not None:
                    return receipt
            elif st is TxStatus.REPLACED:
                raise ChainError(f"tx {sent.tx_hash} (nonce {sent.nonce}) was replaced by another transaction")
            if time.monotonic() > deadline:
                raise ChainError(f"tx {sent.tx_hash} not mined within {timeout:.0f} s (status {st})")
            time.sleep(poll)


def simulate_fulfill(txm: TxManager, fn) -> FulfillOutcome:
    """The outcome a `fulfill` call would have now (no transaction): FINALIZED/RECORDED mean send
    it; ALREADY_FINALIZED/NOT_OPEN/DUPLICATE_SIGNER mean no transaction is needed."""
    return FulfillOutcome(int(txm.simulate(fn)))


__all__ = ["FULFILL_NOT_NEEDED", "FeeCapError", "NonceConsumed", "ResyncResult", "RpcUnavailable", "SentTx",
           "SimulationError", "TxManager", "TxRejected", "TxSkipped", "TxStatus", "fulfill_not_needed",
           "is_transient", "simulate_fulfill"]
