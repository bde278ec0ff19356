"""Where the per-file stages of an audit run: local worker processes, or Ray tasks.

`local` (default): a process pool on this machine. `ray`: each file stage is a Ray task on the
cluster at `ray_address` (or on a local Ray instance started for the audit when no address is
given). Ray workers read the sources by path, so on a multi-machine cluster the target must be
on a filesystem every node mounts at the same path.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from auditor.errors import AuditorError

EXECUTORS = ("local", "ray")


def ray_init(address: str | None) -> None:
    try:
        import ray
    except ImportError:
        raise AuditorError("--executor ray needs the ray package (pip install 'ray==2.60.0')") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise AuditorError(f"cannot reach a Ray cluster at {address or 'a new local instance'}: {exc}") from None


class RayPool:
    """The slice of Executor the pipeline uses: submit() -> concurrent.futures.Future."""

    def __init__(self, address: str | None) -> None:
        ray_init(address)
        self._remote: dict[Any, Any] = {}

    def submit(self, fn, *args) -> Future:
        import ray

        if fn not in self._remote:
            self._remote[fn] = ray.remote(max_retries=0)(fn)
        return self._remote[fn].remote(*args).future()

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """The cluster outlives the audit; nothing to stop here."""


def pool(kind: str, jobs: int, ray_address: str | None, initializer=None):
    if kind == "ray":
        return RayPool(ray_address)
    if kind != "local":
        raise AuditorError(f"unknown executor {kind!r}; available: {', '.join(EXECUTORS)}")
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("forkserver"), initializer=initializer)
