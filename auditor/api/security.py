"""API keys (only their SHA-256 is stored) and a per-key rate limit (sliding one-minute window)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque

KEY_PREFIX = "ssk_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def allow(self, who: str) -> tuple[bool, float]:
        """(allowed, seconds until the next request would be)."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(who, deque())
            while hits and now - hits[0] >= 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False, 60 - (now - hits[0])
            hits.append(now)
            return True, 0.0
