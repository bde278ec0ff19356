"""Audit processes that cannot outlive the process that started them.

An audit child (`auditor.runtime.isolated`) leads its own process group and watches its parent: when the
parent is gone (EOF on the spawn sentinel, or a new parent pid), it SIGKILLs every descendant,
whatever their group or session, then its whole group, itself included. Processes that leave
the group (Mythril, in a session of its own for its tree kill) also get PR_SET_PDEATHSIG=SIGKILL
(`die_with_parent`), so they die with the thread that started them even if the audit child is
killed outright. Servers (`solsentry oracle run`, `solsentry serve`) record each running child
(`record`) in a state folder; at start-up `kill_leftovers` kills what a previous instance left
behind: the recorded group whose leader still has the recorded start time, and every process
whose environment carries the recorded token (`TOKEN_ENV`, set by the child for everything it
starts).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TOKEN_ENV = "SOLSENTRY_AUDIT_TOKEN"
_PR_SET_PDEATHSIG = 1


# ---- kernel helpers --------------------------------------------------------------------------
def _prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    fn.restype = ctypes.c_int
    return fn


_PRCTL = _prctl()


def set_pdeathsig(sig: int) -> bool:
    """Linux: deliver `sig` to this process when the thread that created it exits; elsewhere a no-op
    (False)."""
    return _PRCTL is not None and _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` for Popen: the child gets SIGKILL when its parent (thread) dies, and kills
    itself at once when the parent died before the setting took effect."""
    parent = os.getpid()

    def preexec() -> None:
        set_pdeathsig(signal.SIGKILL)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def kill_tree(pid: int, include_top: bool = True) -> None:
    """SIGKILL `pid` (unless not `include_top`) and all its descendants. Everyone is stopped
    (SIGSTOP) first, so that nobody can start a new process between the listing and the killing."""
    import psutil

    try:
        top = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs: dict[int, psutil.Process] = {pid: top} if include_top else {}
    if include_top:
        with contextlib.suppress(psutil.Error):
            top.suspend()
    for _ in range(3):
        try:
            found = [p for p in top.children(recursive=True) if p.pid not in procs]
        except psutil.Error:
            break
        if not found:
            break
        for p in found:
            procs[p.pid] = p
            with contextlib.suppress(psutil.Error):
                p.suspend()
    for p in procs.values():
        with contextlib.suppress(psutil.Error):
            p.kill()
    # Wait until each is gone or a zombie (its reaping is up to its parent, or init, not us).
    _wait_gone([p for p in procs.values() if p.pid != pid], 10)


def killpg(pgid: int) -> None:
    """SIGKILL process group `pgid`, if it exists."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _wait_gone(procs: list, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while procs and time.monotonic() < deadline:
        procs = [p for p in procs if _running(p)]
        if procs:
            time.sleep(0.02)


def _running(p: Any) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# ---- in the audit child ----------------------------------------------------------------------
def new_token() -> str:
    return secrets.token_hex(12)


def guard_child(parent_pid: int, token: str) -> None:
    """First thing in an audit child: lead a new process group, mark everything started from here
    on with `token`, and start the thread that kills the whole tree once `parent_pid` is gone."""
    import psutil  # noqa: F401  (now: the dying path must not have to import it under memory pressure)

    with contextlib.suppress(OSError, AttributeError):      # AttributeError: not POSIX
        os.setpgid(0, 0)
    os.environ[TOKEN_ENV] = token
    sentinel = None
    with contextlib.suppress(Exception):
        import multiprocessing

        parent = multiprocessing.parent_process()
        sentinel = parent.sentinel if parent is not None else None
    threading.Thread(target=_watch_parent, args=(parent_pid, sentinel), name="solsentry-parent-watch",
                     daemon=True).start()


def _watch_parent(parent_pid: int, sentinel: int | None) -> None:
    from multiprocessing.connection import wait

    while os.getppid() == parent_pid:
        if sentinel is None:
            time.sleep(0.2)
        elif wait([sentinel], 0.2):        # EOF: the parent's end of the spawn pipe is closed
            break
    try:
        kill_tree(os.getpid(), include_top=False)
    finally:
        if os.getpgrp() == os.getpid():
            os.killpg(0, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


# ---- records of running children, and the start-up cleanup ---------------------------------
def _start_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def record(directory: Path, pid: int, token: str) -> Path | None:
    """Note the running audit child `pid` (its group's id) in `directory`; the record's path, or
    None when it cannot be written (the audit still runs)."""
    doc = {"pgid": pid, "started": _start_time(pid), "token": token,
           "owner": os.getpid(), "owner_started": _start_time(os.getpid())}
    path = Path(directory) / f"{pid}-{token}.json"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot record audit process %d in %s: %s", pid, directory, exc)
        return None
    return path


def forget(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def _same(pid: int, started: Any) -> bool:
    now = _start_time(pid)
    return now is not None and isinstance(started, int | float) and abs(now - started) < 0.05


def kill_leftovers(directory: Path) -> int:
    """At start-up: kill the audit processes a previous instance recorded in `directory` and left
    behind, then remove the records. Records of an instance that still runs are kept. Returns the
    number of processes found and killed."""
    import psutil

    directory = Path(directory)
    if not directory.is_dir():
        return 0
    tokens: set[str] = set()
    groups: list[int] = []                 # recorded groups whose leader is still the recorded process
    for path in sorted(directory.iterdir()):
        if path.suffix == ".tmp":
            forget(path)
            continue
        try:
            doc = json.loads(path.read_text())
            pgid, started, token = int(doc["pgid"]), doc["started"], str(doc["token"])
        except (OSError, ValueError, KeyError, TypeError):
            forget(path)
            continue
        owner = doc.get("owner")
        if isinstance(owner, int) and _same(owner, doc.get("owner_started")):
            continue                       # its server still runs: not left behind
        tokens.add(token)
        if _same(pgid, started):
            groups.append(pgid)
        forget(path)
    if not tokens:
        return 0
    # What they started: the groups' members and descendants, and, in any group or session,
    # whatever carries a recorded token in its environment.
    found: dict[int, psutil.Process] = {}
    for pgid in groups:
        with contextlib.suppress(psutil.Error):
            leader = psutil.Process(pgid)
            found.update((p.pid, p) for p in [leader, *leader.children(recursive=True)])
    for p in psutil.process_iter():
        if p.pid == os.getpid() or p.pid in found:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(p.pid) in groups or p.environ().get(TOKEN_ENV) in tokens:
                found[p.pid] = p
    killed = [p for p in found.values() if _running(p)]
    for pgid in groups:
        kill_tree(pgid)
        killpg(pgid)
    for p in killed:
        with contextlib.suppress(psutil.Error):
            p.kill()
    _wait_gone(killed, 10)
    if killed:
        log.warning("killed %d audit process(es) left behind by a previous instance", len(killed))
    return len(killed)
