"""How the services run whole audits: one small class per way, registered in `RUNNERS`, which
`solsentry serve` (auditor/api/runner.py) and `solsentry oracle run` (oracle/tasks/process.py) both
read. Every runner gives each audit the same isolation (its own directory, the hosted sandbox of
its options, the time budget and the memory cap on its process tree, a kill of everything it
started) and raises the same typed errors (`auditor.runtime.isolated`).

========== ========= ======================================================================
executor   isolation what runs an audit
========== ========= ======================================================================
local      warm      a pre-started worker process of a pool (auditor/runtime/warm.py)
local      fresh     a new process per audit (auditor/runtime/isolated.py): imports and
                     compiler start-up every time; the way before the pool
ray        warm      a long-lived Ray actor holding one warm worker (auditor/runtime/ray_actors.py)
ray        fresh     a Ray task in a fresh Ray worker per audit
========== ========= ======================================================================
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from auditor.errors import AuditorError
from auditor.options import AuditOptions
from auditor.report.model import Report
from auditor.runtime.warm import PoolConfig, WarmPool
from auditor.targets.bytecode import BytecodeTarget

if TYPE_CHECKING:
    from auditor.archive_guard import ArchiveLimits

Root = str | Path | BytecodeTarget


class Runner(Protocol):
    NAME: str
    DESCRIPTION: str

    def start(self) -> None: ...

    def ready(self) -> int: ...

    def run(self, root: Root, options: AuditOptions, budget_s: float, memory_mb: int = 0) -> Report: ...

    def close(self) -> None: ...


class FreshRunner:
    NAME = "fresh"
    DESCRIPTION = "a new process per audit (imports, compilers started each time)"

    def __init__(self, config: PoolConfig, **_: Any) -> None:
        self.children_dir, self.size = config.children_dir, config.size

    def start(self) -> None:
        """Nothing is kept between audits."""

    def ready(self) -> int:
        return self.size

    def run(self, root: Root, options: AuditOptions, budget_s: float, memory_mb: int = 0) -> Report:
        from auditor.runtime.isolated import audit_isolated

        return audit_isolated(root, options, budget_s, memory_mb, children_dir=self.children_dir)

    def close(self) -> None:
        """Each audit's process is gone when it returns."""


class RayTaskRunner:
    NAME = "fresh"
    DESCRIPTION = "a Ray task in a fresh Ray worker per audit"

    def __init__(self, config: PoolConfig, ray_address: str | None = None,
                 archive_limits: ArchiveLimits | None = None, **_: Any) -> None:
        self.address, self.archive_limits, self.size = ray_address, archive_limits, config.size

    def start(self) -> None:
        from auditor.runtime.executors import ray_init

        ray_init(self.address)

    def ready(self) -> int:
        return self.size

    def run(self, root: Root, options: AuditOptions, budget_s: float, memory_mb: int = 0) -> Report:
        from auditor.runtime.isolated import audit_on_ray

        if isinstance(root, BytecodeTarget):
            raise AuditorError("code audits run on Ray with isolation \"warm\" only")
        text = audit_on_ray(Path(root), as_dict(options), budget_s, memory_mb, self.archive_limits)
        return Report.model_validate_json(text)

    def close(self) -> None:
        """The cluster outlives the service."""


def _ray_actors(config: PoolConfig, **kwargs: Any) -> Runner:
    from auditor.runtime.ray_actors import RayActorPool

    return RayActorPool(config, **kwargs)


# (executor, isolation) -> the runner's class (or factory, where it needs Ray).
RUNNERS: dict[tuple[str, str], Any] = {
    ("local", "warm"): WarmPool,
    ("local", "fresh"): FreshRunner,
    ("ray", "warm"): _ray_actors,
    ("ray", "fresh"): RayTaskRunner,
}
EXECUTORS = tuple(sorted({e for e, _ in RUNNERS}))
ISOLATIONS = tuple(sorted({i for _, i in RUNNERS}))


def make_runner(executor: str, isolation: str, config: PoolConfig, ray_address: str | None = None,
                archive_limits: ArchiveLimits | None = None) -> Runner:
    if (executor, isolation) not in RUNNERS:
        raise AuditorError(f"no audit runner for executor {executor!r} with isolation {isolation!r}; "
                           f"executors: {', '.join(EXECUTORS)}; isolations: {', '.join(ISOLATIONS)}")
    factory = RUNNERS[(executor, isolation)]
    if executor == "local":
        return factory(config)
    return factory(config, ray_address=ray_address, archive_limits=archive_limits)


def as_dict(options: AuditOptions) -> dict:
    """The options as keyword arguments (what a Ray task rebuilds them from), without progress."""
    return {f.name: getattr(options, f.name) for f in fields(options) if f.name != "progress"}
