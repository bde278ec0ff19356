"""API keys (only their SHA-256 is stored) and rate limits (sliding one-minute windows): per key, per
client address for failed authentications and for the public outputs."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque

KEY_PREFIX = "ssk_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class RateLimiter:
    """Hits per name (an API key's id, a client address) in a sliding one-minute window; a limit
    of 0 or less means no limit."""

    _SWEEP_AT = 10_000          # names tracked before idle ones are dropped (memory stays bounded)

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _window(self, who: str, now: float) -> deque:
        if len(self._hits) >= self._SWEEP_AT and who not in self._hits:
            for name in [n for n, h in self._hits.items() if not h or now - h[-1] >= 60]:
                del self._hits[name]
        hits = self._hits.setdefault(who, deque())
        while hits and now - hits[0] >= 60:
            hits.popleft()
        return hits

    def allow(self, who: str) -> tuple[bool, float]:
        """(allowed, seconds until the next request would be); an allowed request counts."""
        if self.per_minute <= 0:
            return True, 0.0
        now = time.monotonic()
        with self._lock:
            hits = self._window(who, now)
            if len(hits) >= self.per_minute:
                return False, 60 - (now - hits[0])
            hits.append(now)
            return True, 0.0

    def wait(self, who: str) -> float:
        """Seconds until `who` is under the limit again (0.0: it is now); counts nothing."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            hits = self._window(who, now)
            return 60 - (now - hits[0]) if len(hits) >= self.per_minute else 0.0

    def record(self, who: str) -> None:
        """Count one hit (a failed authentication, say) whatever the limit."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            hits = self._window(who, now)
            hits.append(now)
            while len(hits) > self.per_minute:      # only the newest per_minute matter
                hits.popleft()


def client_address(request) -> str:
    """The peer address of the connection. Behind a reverse proxy this is the proxy's address,
    unless uvicorn rewrote it from X-Forwarded-For (it does so only for connections from
    FORWARDED_ALLOW_IPS, by default 127.0.0.1 and ::1; see docs/security.md)."""
    return request.client.host if request.client else "unknown"
