"""One time and memory policy for every child an audit starts (audit processes, Mythril).

Memory is the resident size (RSS) of the whole process tree, polled, not an address-space cap
(RLIMIT_AS): the solc-js compilers >= 0.6 are WebAssembly, and V8 reserves far more address
space than it ever uses, so an address-space cap stops them from starting at all ("Cannot
allocate Wasm memory"). RSS is summed per process, so pages shared between processes count
once per process: the cap errs on the side of killing early, never late. A tree past the time
limit or over the cap is killed whole (`auditor.runtime.children.kill_tree`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from auditor.runtime.children import kill_tree

Verdict = Literal["done", "timeout", "memory"]
POLL_S = 0.25          # how often the tree's memory is measured (a shorter spike goes unseen)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in MB (10**6 bytes); 0 when it is gone."""
    import psutil

    try:
        top = psutil.Process(pid)
        procs = [top, *top.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:         # exited between the listing and the reading
            continue
    return total / 1e6


def watch(pid: int, finished: Callable[[float], bool], limit_s: float | None, memory_mb: int = 0) -> Verdict:
    """Wait until `finished(wait_s)` (which may block up to `wait_s`) is true. Past `limit_s`
    (None: no limit) or with the tree of `pid` over `memory_mb` of RSS (0: no cap), the tree is
    killed, `pid` included, and the verdict says why; reaping `pid` is left to the caller."""
    deadline = None if limit_s is None else time.monotonic() + limit_s
    while True:
        wait_s = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
        if finished(wait_s):
            return "done"
        if deadline is not None and time.monotonic() >= deadline:
            kill_tree(pid)
            return "timeout"
        if memory_mb > 0 and tree_rss_mb(pid) > memory_mb:
            kill_tree(pid)
            return "memory"
