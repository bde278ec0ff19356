"""A retrying RPC call: transient failures (connection refused/reset, timeouts, HTTP 429/5xx,
rate limiting) are retried a bounded number of times with exponential backoff, and counted;
reverts and rejections are raised at once. Used by the tx manager and the listener."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from web3.exceptions import ContractLogicError, Web3RPCError

from oracle.chain.errors import RpcUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

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


class RetryingRpc:
    """`rpc(what, call)`: `call()` with at most `retries` retries of transient failures (sleeping
    `backoff_s * 2**attempt` between tries); `RpcUnavailable` once they are spent. `retried`
    counts the retries made, `exhausted` the calls that gave up (thread-safe)."""

    def __init__(self, retries: int = 3, backoff_s: float = 0.5) -> None:
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.retried = 0
        self.exhausted = 0
        self._lock = threading.Lock()

    def __call__(self, what: str, call: Callable[[], T]) -> T:
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return call()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt + 1 == attempts:
                    with self._lock:
                        self.exhausted += 1
                    raise RpcUnavailable(f"{what}: RPC unavailable after {attempts} tries "
                                         f"({type(exc).__name__})") from exc
                delay = self.backoff_s * 2**attempt
                with self._lock:
                    self.retried += 1
                log.warning("%s: transient RPC error (%s); retry %d/%d in %.2f s", what, type(exc).__name__,
                            attempt + 1, attempts - 1, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    @classmethod
    def from_settings(cls, settings) -> RetryingRpc:
        return cls(settings.rpc_retries, settings.rpc_backoff_s)


__all__ = ["RetryingRpc", "is_transient"]
