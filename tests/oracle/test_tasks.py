"""The oracle's task model (oracle/tasks/base.py), without a chain: a pass never overlaps itself,
a wake during a pass runs it once more, failures are guarded and reported for /healthz."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import requests

from oracle.tasks.base import Task


class Health:
    def __init__(self) -> None:
        self.state: dict[str, str | None] = {}

    def healthy(self, task: str) -> None:
        self.state[task] = None

    def unhealthy(self, task: str, why: str) -> None:
        self.state[task] = why


class Counting(Task):
    name = "counting"

    def __init__(self, parts, fail: Exception | None = None) -> None:
        super().__init__(parts, 1.0)
        self.passes = 0
        self.fail = fail
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def run(self) -> None:
        self.passes += 1
        self.entered.set()
        self.release.wait(10)
        if self.fail is not None:
            raise self.fail


def parts() -> SimpleNamespace:
    return SimpleNamespace(metrics=Health())


def test_a_wake_during_a_pass_runs_it_once_more_never_concurrently():
    task = Counting(parts())
    task.release.clear()
    first = threading.Thread(target=task.tick)
    first.start()
    assert task.entered.wait(10)
    task.wake()          # no trigger: runs in the caller, sees the pass running, asks for another
    task.tick()
    assert task.passes == 1
    task.release.set()
    first.join(10)
    assert task.passes == 2      # the two requests during the pass coalesce into one more pass
    task.tick()
    assert task.passes == 3


def test_wake_uses_the_trigger_when_wired():
    task = Counting(parts())
    calls = []
    task.trigger = lambda: calls.append(1)
    task.wake()
    assert calls == [1] and task.passes == 0


def test_failures_are_guarded_and_reported():
    p = parts()
    task = Counting(p, fail=RuntimeError("bad job"))
    task.tick()                   # does not raise
    assert p.metrics.state == {"counting": "bad job"}
    task.fail = requests.ConnectionError("Connection refused")   # an outage: a warning, still reported
    task.tick()
    assert "refused" in p.metrics.state["counting"]
    task.fail = None
    task.tick()
    assert p.metrics.state == {"counting": None} and task.passes == 3
