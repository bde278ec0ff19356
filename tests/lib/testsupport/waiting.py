"""Waiting for a condition, never for a fixed time: a loaded machine is slower, not different."""

from __future__ import annotations

import time


def wait_for(condition, timeout: float, what: str, interval: float = 0.2, fail=None):
    """Poll `condition()` until it returns something truthy and return that; `fail()` may raise early
    (a process that died). The deadline is generous by intent: it only bounds a hung test."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if fail is not None:
            fail()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
