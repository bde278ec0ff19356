"""Where work runs: local worker processes, or Ray tasks. Ray is wired here only.

File stages (`pool`): `local` (default) is a process pool on this machine; `ray` makes each file
stage a Ray task on the cluster at `ray_address` (or on a local Ray instance started for the
audit when no address is given). Ray workers read the sources by path, so on a multi-machine
cluster the target must be on a filesystem every node mounts at the same path.

`inline` runs each stage at once in the calling process: what a warm audit worker
(`auditor.runtime.warm_worker`) uses, since it is itself the isolated process of one audit and
has the tools imported already.

One task in a fresh worker (`ray_call`): what whole audits use on Ray
(`auditor.runtime.isolated.audit_on_ray`, `solsentry serve --executor ray`).
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
            hint, cause = "", exc.__cause__
            while cause is not None and "AuthenticationError" not in f"{type(cause).__name__} {cause}":
                cause = cause.__cause__            # Ray says why in a cause's text only
            if cause is not None:
                hint = (" (the cluster uses token authentication: set RAY_AUTH_MODE=token, and its token in "
                        "~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN; docs/ray.md)")
            raise AuditorError(f"cannot reach a Ray cluster at {address or 'a new local instance'}: {exc}{hint}") \
                from None


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


class InlinePool:
    """submit() runs `fn` now, here; its result or exception in a finished Future."""

    def submit(self, fn, *args) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except Exception as exc:     # the caller reads it from the future, as from a worker's
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Nothing runs in the background."""


def pool(kind: str, jobs: int, ray_address: str | None, initializer=None):
    if kind == "inline":
        return InlinePool()
    if kind == "ray":
        return RayPool(ray_address)
    if kind != "local":
        raise AuditorError(f"unknown executor {kind!r}; available: {', '.join(EXECUTORS)}")
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("forkserver"), initializer=initializer)


def ray_call(fn, args: tuple, timeout_s: float, memory_mb: int = 0) -> Any:
    """`fn(*args)` as one Ray task in a fresh worker process (max_calls=1, no retries) that
    reserves `memory_mb` in Ray's scheduler; its result, or TimeoutError past `timeout_s` (the
    task is cancelled, force)."""
    import ray

    remote = ray.remote(max_calls=1, max_retries=0, memory=max(0, memory_mb) * 1024 * 1024 or None)(fn)
    ref = remote.remote(*args)
    try:
        return ray.get(ref, timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        ray.cancel(ref, force=True)
        raise TimeoutError from None
