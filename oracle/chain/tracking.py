"""Following a wallet's sent transactions (a base of `TxManager`): which version of a nonce was
mined, pending / mined / replaced / dropped, the nonce resync after a restart or outside use of
the key, and waiting for a receipt. Uses the manager's RPC helpers, lock and in-flight table."""

from __future__ import annotations

import logging
import threading
import time

from oracle.chain.errors import TxRejected
from oracle.chain.sent import ResyncResult, SentTx, TxStatus
from oracle.errors import ChainError

log = logging.getLogger("oracle.chain.txmanager")   # one logger for the wallet's transactions


class TxTracking:
    address: str
    _lock: threading.Lock
    _next: int | None
    _inflight: dict[int, SentTx]

    def receipt(self, tx_hash: str | bytes) -> dict | None:  # provided by TxManager
        raise NotImplementedError

    def _count(self, block: str) -> int:
        raise NotImplementedError

    def _known(self, tx_hash: str) -> bool:
        raise NotImplementedError

    def _broadcast(self, sent: SentTx) -> bool:
        raise NotImplementedError

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


__all__ = ["TxTracking"]
