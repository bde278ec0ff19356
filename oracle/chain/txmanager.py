"""Transactions of ONE wallet: nonces, simulation, EIP-1559 fees, write-ahead signing, fee bumps.

How a send goes (`TxManager.send`):
1. simulate: `fn.call({"from": wallet})`; a revert raises `SimulationError` (with the custom error
   name) and nothing is signed. The simulated return value is kept (`SentTx.result`); pass
   `skip_if` to stop when it says no transaction is needed (`TxSkipped`); what "not needed" means
   is the caller's protocol (the oracle's: `oracle/tasks/deliver.py`);
2. estimate gas (+ `gas_margin`), price it: tip = `max_priority_fee_wei`, maxFeePerGas =
   min(`max_fee_cap_wei`, 2 * baseFee + tip); a base fee above the cap raises `FeeCapError`;
3. under the wallet's lock: take the next nonce (max(chain pending count, last handed out + 1)),
   sign locally, call `on_signed(tx_hash, nonce, raw)` (the caller persists it: write-ahead),
   then broadcast. A node answering "already known", or "nonce too low" for a transaction it
   already has, counts as success, so re-broadcasting the same bytes is always harmless.

Every RPC call goes through `chain/retry.py` (`rpc_retries`, `rpc_backoff_s`): only transient
failures are retried; reverts (decoded by `chain/revert.py`) and rejections are raised at once.
Nothing here knows a contract's protocol. The key and raw transactions are never logged.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from oracle.chain.errors import NonceConsumed, RpcUnavailable, TxRejected, TxSkipped
from oracle.chain.fees import FeePolicy
from oracle.chain.retry import RetryingRpc
from oracle.chain.revert import decode_revert
from oracle.chain.sent import ResyncResult, SentTx, TxStatus, hex0x, norm_hash
from oracle.chain.tracking import TxTracking
from oracle.config import OracleSettings
from oracle.errors import ChainError

log = logging.getLogger(__name__)

T = TypeVar("T")
OnSigned = Callable[[str, int, bytes], Any]


# ---- the manager --------------------------------------------------------------------------
class TxManager(TxTracking):
    """Sends the transactions of one wallet (`account`: eth_account LocalAccount or
    oracle.keystore.NodeAccount). Thread-safe: one lock covers nonce choice, signing, the
    `on_signed` callback and the broadcast, so the node sees nonces in order and gaps cannot form.
    Nothing else may send from this key while the manager runs, or call `resync()` after it did."""

    def __init__(self, w3: Web3, account, settings: OracleSettings, rpc: RetryingRpc | None = None) -> None:
        self.w3 = w3
        self.account = account
        self.settings = settings
        self.address: str = to_checksum_address(account.address)
        self._lock = threading.Lock()
        self._next: int | None = None  # highest nonce handed out + 1
        self._inflight: dict[int, SentTx] = {}  # latest version per nonce, until seen mined or lost
        self._chain_id: int | None = None
        self.rpc = rpc or RetryingRpc.from_settings(settings)
        self.fee_policy = FeePolicy(w3, settings, self.rpc)

    def __repr__(self) -> str:
        return f"TxManager({self.address})"

    # ---- RPC with retries (chain/retry.py) ----------------------------------------------
    def _rpc(self, what: str, call: Callable[[], T]) -> T:
        return self.rpc(what, call)

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
        h = norm_hash(tx_hash)
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
            raise decode_revert(exc, fn.contract_abi) from None

    def _estimate(self, fn, value: int) -> int:
        params = self._params(value)
        try:
            estimate = self._rpc("eth_estimateGas", lambda: fn.estimate_gas(params))
        except ContractLogicError as exc:
            raise decode_revert(exc, fn.contract_abi) from None
        return math.ceil(estimate * (1 + self.settings.gas_margin))

    def base_fee(self) -> int:
        return self.fee_policy.base_fee()

    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a new transaction now (`chain/fees.py`)."""
        return self.fee_policy.fees()

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
        return SentTx(hex0x(keccak(raw)), nonce, raw, gas, max_fee, tip, replaces, result)

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
        max_fee, tip = self.fee_policy.bumped(sent)
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


__all__ = ["ResyncResult", "SentTx", "TxManager", "TxStatus"]
