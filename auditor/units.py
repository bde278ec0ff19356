"""Running one tool over its units (files, contracts, runtime code) in threads, through the cache:
the part of the pipeline every tool that is not run inside the file stage goes through."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from auditor.cache import ResultCache, outcome_from_json, outcome_to_json
from auditor.options import AuditOptions
from auditor.report.model import ToolRun, ToolState
from auditor.tools.base import RawFinding, Tool, ToolOutcome, Work

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unit:
    name: str        # the report's `tool_runs[].unit`: "file", "file:Contract", "runtime"
    work: Work
    key: str         # the cache key of this tool's outcome on it


def tool_key(tool: Tool, *parts: object) -> str:
    """A tool's cache key on a unit: its name, version and result-changing settings, and the unit."""
    return ResultCache.key(tool.NAME, *parts, tool.version(), tool.settings_key())


def run_outcome(tool: Tool, unit: Unit, runs: list[ToolRun], raws: list[RawFinding], outcome: ToolOutcome,
                cached: bool) -> None:
    runs.append(ToolRun(tool=tool.NAME, unit=unit.name, state=ToolState(outcome.state), message=outcome.message,
                        duration_s=round(outcome.duration_s, 3), findings=len(outcome.findings), cached=cached))
    raws.extend(outcome.findings)


def skip(tool: Tool, names: list[str], message: str, runs: list[ToolRun]) -> None:
    runs.extend(ToolRun(tool=tool.NAME, unit=n, state=ToolState.SKIPPED, message=message) for n in names)


def run_units(tool: Tool, units: list[Unit], cache_store: ResultCache, options: AuditOptions,
              runs: list[ToolRun], raws: list[RawFinding]) -> None:
    reason = tool.unavailable()
    if reason:
        skip(tool, [u.name for u in units], reason, runs)
        return

    def one(unit: Unit) -> tuple[ToolOutcome, bool]:
        hit = cache_store.get(unit.key)
        if hit is not None:
            return outcome_from_json(hit), True
        outcome = tool.run(unit.work)
        # Findings, and a timeout under the budget in the key (settings_key), are outcomes of the code;
        # a crash, a memory kill or a kill under a limit the key does not hold are not (re-run next time).
        if not outcome.infrastructure:
            cache_store.put(unit.key, outcome_to_json(outcome))
        return outcome, False

    tick(options, tool.NAME, 0, len(units))
    with ThreadPoolExecutor(jobs(options)) as pool:
        futures = {pool.submit(one, u): u for u in units}
        for i, fut in enumerate(as_completed(futures), 1):
            unit = futures[fut]
            try:
                outcome, cached = fut.result()
            except Exception as exc:
                log.exception("%s failed on %s", tool.NAME, unit.name)
                outcome, cached = ToolOutcome("failed", message=f"internal error: {exc}"), False
            run_outcome(tool, unit, runs, raws, outcome, cached)
            tick(options, tool.NAME, i, len(units))


def jobs(options: AuditOptions) -> int:
    return max(1, options.jobs or os.cpu_count() or 1)


def tick(options: AuditOptions, stage: str, done: int, total: int) -> None:
    if options.progress is not None:
        options.progress(stage, done, total)
