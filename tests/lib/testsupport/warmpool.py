"""For the tests of the warm audit pool (auditor/runtime/warm.py) and of the service on it: the two banks
(one reentrant, one clean, the same contract and file name), generated contracts that are costly to
analyze, and the pool's processes and working directories as seen from outside (psutil)."""

from __future__ import annotations

import threading
from contextlib import suppress
from pathlib import Path

import psutil

from testsupport.waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
REENTRANT = (ROOT / "examples" / "EtherBank.sol").read_text()
# The same contract (name and file name too) with its books updated before it pays: no reentrancy.
CLEAN = """pragma solidity ^0.4.24;

contract EtherBank {
    mapping(address => uint256) public credit;

    function deposit() public payable { credit[msg.sender] += msg.value; }

    function withdrawAll() public {
        uint256 owed = credit[msg.sender];
        require(owed > 0);
        credit[msg.sender] = 0;
        msg.sender.transfer(owed);
    }
}
"""


def many_functions(n: int) -> str:
    """A 0.8 contract of `n` state variables and `n` functions, each reading the next one's variable.
    Measured (Slither 0.10, solc-js 0.8.37): n=1000 takes the auditing process from ~260 MB to ~1.9 GB
    within ~12 s, then runs on for minutes; n=400 stays within ~350 MB of its start and runs ~45 s."""
    body = "".join(f"    uint256 public s{i};\n    function f{i}(uint256 a) public {{ s{i} = a + s{(i + 1) % n}; }}\n"
                   for i in range(n))
    return f"// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\ncontract Big {{\n{body}}}\n"


def gone(pid: int) -> bool:
    """`pid` has exited: reaped, or a zombie with no thread left. (A SIGKILLed process's first thread
    is a zombie while its other threads still exit; until they have, its parent sees it alive.)"""
    try:
        p = psutil.Process(pid)
        return p.status() == psutil.STATUS_ZOMBIE and p.num_threads() <= 1
    except psutil.NoSuchProcess:
        return True


def tree(pid: int) -> list[psutil.Process]:
    with suppress(psutil.Error):
        top = psutil.Process(pid)
        return [top, *top.children(recursive=True)]
    return []


def workdir(pid: int) -> str | None:
    """The audit working directory worker `pid` is in (its cwd: the pool's `audit-*`), if it is auditing."""
    with suppress(psutil.Error):
        cwd = psutil.Process(pid).cwd()
        return cwd if Path(cwd).name.startswith("audit-") else None
    return None


class Workdirs:
    """The audit working directories a pool's workers are seen in (their cwd, polled every 5 ms):
    `seen()` maps each to the pid in it; `together`: the most seen at one time."""

    def __init__(self, pool) -> None:
        self.pool, self._seen, self.together = pool, {}, 0
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            now = {d: pid for pid in self.pool.pids() if (d := workdir(pid))}
            with self._lock:
                self._seen.update(now)
                self.together = max(self.together, len(now))

    def seen(self) -> dict[str, int]:
        with self._lock:
            return dict(self._seen)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return self.seen()


def ours() -> set[int]:
    """The pids of every process under this one."""
    return {c.pid for c in psutil.Process().children(recursive=True)}


def left(others: set[int]) -> list[str]:
    """The command lines of what runs under this process besides `others` and their descendants
    (multiprocessing's resource tracker aside)."""
    found = []
    for p in psutil.Process().children(recursive=True):
        with suppress(psutil.Error):
            if {p.pid, *(a.pid for a in p.parents())} & others or p.status() == psutil.STATUS_ZOMBIE:
                continue
            if "resource_tracker" not in (line := " ".join(p.cmdline())):
                found.append(line[:200])
    return found


def thread_errors(monkeypatch) -> list:
    """What threads raise from now on, kept (`no_thread_errors` checks it once the pools' threads end)."""
    errors: list = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    return errors


def no_thread_errors(errors: list) -> None:
    wait_for(lambda: not any(t.name == "audit-worker-start" for t in threading.enumerate()), 60,
             "the pools' start threads to end")
    assert not errors, [(e.exc_type, e.exc_value) for e in errors]
