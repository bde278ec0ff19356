"""Inside one warm audit worker (the pool is `auditor.runtime.warm`).

The worker is a "spawn" child that imports the pipeline and the tools once, loads the resident
compilers of the versions the pool has seen and, when asked, the review model, and then audits
one request at a time, each in a working directory of its own that the pool made for it and
removes afterwards (the process's cwd, TMPDIR and `tempfile`'s default all point there while the
audit runs). It dies with the pool's process (`auditor.runtime.children.guard_child`), and is
never asked for a second audit after it broke a limit: the pool kills it and starts another.

Messages (multiprocessing Connection): pool -> worker `("audit", target, AuditOptions, workdir)`;
worker -> pool `("ready", None)` once warm, then per audit `("ok", report JSON)`,
`("target", message)` (a TargetError) or `("error", message)`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from auditor.runtime import children

WARM_SOURCE = ("pragma solidity {v};\n"
               "contract SolsentryWarmUp {{ uint256 x; function f(uint256 a) external {{ x = a; }} }}\n")


def worker_main(conn: Any, parent_pid: int, token: str, versions: tuple[str, ...], review: str | None) -> None:
    children.guard_child(parent_pid, token)
    logging.basicConfig(level=logging.ERROR)
    try:
        warm_up(versions, review)
    except Exception as exc:           # a worker that cannot warm up says why, and the pool retries
        with contextlib.suppress(OSError):
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            kind, target, options, workdir = conn.recv()
        except (EOFError, OSError):   # the pool closed it: nothing more to do
            return
        if kind != "audit":
            return
        conn.send(audit_in(target, options, Path(workdir)))


def warm_up(versions: tuple[str, ...], review: str | None) -> None:
    """The imports (Slither, crytic-compile), one Slither run on a tiny contract per compiler version
    in `versions` (each version's resident compiler loaded and its JIT warm), and the review model."""
    import torch

    from auditor.options import AuditOptions
    from auditor.tools.registry import get_tool

    torch.set_num_threads(1)           # one audit per worker: the pool's size is the parallelism
    get_tool("slither").warm()
    if review == "embedded":
        from auditor.review.encoder import EncoderReviewer

        EncoderReviewer().load()          # kept for the process (encoder._LOADED)
    for version in versions or _newest():
        with tempfile.TemporaryDirectory(prefix="solsentry-warm-") as tmp:
            (Path(tmp) / "W.sol").write_text(WARM_SOURCE.format(v=version))
            options = AuditOptions(tools=("slither",), review=review or "none", hosted=True, use_cache=False)
            audit_in(tmp, options, Path(tmp))


def _newest() -> tuple[str, ...]:
    """Before any audit was seen: the newest installed solc-js (what an unpinned pragma gets)."""
    from auditor.solc.provider import SolcProvider

    found = [b for b in SolcProvider(install=False).installed() if b.kind == "solc-js"]
    return (str(found[0].version),) if found else ()


def audit_in(target: Any, options: Any, workdir: Path) -> tuple[str, str]:
    """One audit with `workdir` as the process's working and temporary directory."""
    from auditor.errors import AuditorError, TargetError
    from auditor.pipeline import audit

    saved = os.environ.get("TMPDIR")
    os.chdir(workdir)
    os.environ["TMPDIR"] = tempfile.tempdir = str(workdir)
    try:
        # The stages run here: this process is the audit's isolation, and the tools are imported.
        report = audit(target, replace(options, executor="inline", progress=None))
        return "ok", report.to_json(indent=None)
    except TargetError as exc:
        return "target", str(exc)
    except AuditorError as exc:
        return "error", str(exc)
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"
    finally:
        os.chdir("/")
        tempfile.tempdir = None
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
