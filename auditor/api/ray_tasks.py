"""Audits as Ray tasks (`solsentry serve --executor ray`): the sources travel with the task as a
zip, so a cluster needs no shared filesystem; each task runs in a fresh worker process
(max_calls=1). Memory: the task reserves `memory_mb` in Ray's scheduler, and Ray's memory monitor
kills a worker that runs the node out of memory (local audits have their tree's resident memory
watched instead, auditor/limits.py; on a cluster the tree is on another machine)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


def pack(src: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file() and not p.is_symlink():
                zf.write(p, p.relative_to(src).as_posix())
    return buf.getvalue()


def audit_task(payload: bytes, options: dict) -> str:
    import tempfile

    from auditor.archive import unpack
    from auditor.pipeline import AuditOptions, audit

    with tempfile.TemporaryDirectory(prefix="solsentry-ray-") as tmp:
        unpack(payload, Path(tmp))
        return audit(tmp, AuditOptions(**options)).to_json()


def run(src: Path, options: dict, timeout_s: float, memory_mb: int) -> str:
    """The report JSON; raises TimeoutError past `timeout_s` (the task is cancelled)."""
    import ray

    remote = ray.remote(max_calls=1, max_retries=0, memory=max(0, memory_mb) * 1024 * 1024 or None)(audit_task)
    ref = remote.remote(pack(src), options)
    try:
        return ray.get(ref, timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        ray.cancel(ref, force=True)
        raise TimeoutError from None
