"""`audit(target, options) -> Report`: the one path every caller (CLI, API, oracle, eval) uses.

The pipeline names no tool: it schedules (tool, unit) pairs by each tool's SCOPE, from the
registry (auditor/tools/registry.py). File-scope tools with `analyze_compiled` run inside the file
stage on its compile output (auditor/stages.py); every other pair runs through `auditor.units`.
A target is a path (auditor/targets) or runtime code (auditor/targets/bytecode.py)."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from functools import cache
from pathlib import Path

from auditor import __version__, compiled
from auditor.cache import ResultCache, outcome_from_json, outcome_to_json
from auditor.config import get_settings
from auditor.errors import AuditorError
from auditor.merge import merge
from auditor.options import AuditOptions, Progress
from auditor.plan import Planned, plan
from auditor.report.model import BytecodeInfo, Report, SourceFile, ToolInfo, ToolRun, ToolState, is_complete, summarize
from auditor.runtime import executors
from auditor.stages import FileStage, run_file_stage, stage_from_json, stage_to_json, worker_init
from auditor.suppress import apply_baseline, apply_inline, load_baseline
from auditor.targets import Target, load_target
from auditor.targets.bytecode import UNIT, BytecodeTarget
from auditor.tools.base import RawFinding, Tool, scopes
from auditor.tools.registry import get_tool, tool_names
from auditor.units import Unit, jobs, run_outcome, run_units, skip, tick, tool_key

__all__ = ["AuditOptions", "Progress", "audit"]
log = logging.getLogger(__name__)


def audit(path: str | Path | BytecodeTarget, options: AuditOptions | None = None) -> Report:
    options = options or AuditOptions()
    started = time.monotonic()
    settings = get_settings()
    from auditor.review.registry import REVIEW_NAMES

    if options.review not in REVIEW_NAMES:
        raise AuditorError(f"unknown review {options.review!r}; available: {', '.join(REVIEW_NAMES)}")
    known = tool_names()
    unknown = [t for t in options.tools if t not in known]
    if unknown or not options.tools:
        raise AuditorError(f"unknown tool(s) {', '.join(unknown) or '(none given)'}; available: "
                           f"{', '.join(known)}")
    tools = {n: get_tool(n, **options.settings_for(n)) for n in options.tools}
    cache_store = ResultCache(settings.results_path, enabled=options.use_cache)
    if isinstance(path, BytecodeTarget):
        report = _audit_bytecode(path, tools, cache_store, options)
    else:
        report = _audit_sources(path, tools, cache_store, options, settings.max_source_bytes)
    return report.model_copy(update={"duration_s": round(time.monotonic() - started, 3)})


def _audit_sources(path: str | Path, tools: dict[str, Tool], cache_store: ResultCache, options: AuditOptions,
                   max_bytes: int) -> Report:
    target = load_target(path, include_tests=options.include_tests, allow_paths=options.allow_paths,
                         hosted=options.hosted)
    accepted = load_baseline(options.baseline) if options.baseline else set()
    runs: list[ToolRun] = []
    files: dict[str, SourceFile] = {}
    raws: list[RawFinding] = []

    planned = plan(target, files, max_bytes, install=not options.hosted)
    in_stage = {n: t for n, t in tools.items() if "file" in scopes(t) and t.COMPILED_OUTPUTS and not t.unavailable()}
    stages, cached = _file_stages(planned, in_stage, cache_store, options, files)
    compiled.record(planned, stages, files)   # the compiler that worked: into the report, and for later tools
    for tool in tools.values():
        if "file" in scopes(tool):
            _file_runs(tool, tool.NAME in in_stage, planned, stages, cached, files, cache_store, options, runs, raws)
    for tool in tools.values():
        if "contract" in scopes(tool):
            run_units(tool, _contract_units(tool, planned, stages), cache_store, options, runs, raws)

    lines = _line_reader(target)
    findings = merge(raws, lines)
    if not options.include_dependencies:
        findings = [f for f in findings if not target.is_dependency(target.root / f.primary.file)]
    apply_inline(findings, lines)
    apply_baseline(findings, accepted)
    report = _report(str(path), target.kind, tools, runs, list(files.values()), findings)
    if options.review != "none":
        report = _review(report, target, options)
    return report


def _audit_bytecode(target: BytecodeTarget, tools: dict[str, Tool], cache_store: ResultCache,
                    options: AuditOptions) -> Report:
    """The tools whose SCOPE includes "bytecode" on the runtime code (one unit, `UNIT`). There are
    no sources: no review, no inline suppressions or baseline."""
    chosen = {n: t for n, t in tools.items() if "bytecode" in scopes(t)}
    if not chosen:
        raise AuditorError(f"none of the tools {', '.join(tools)} analyzes bytecode")
    runs: list[ToolRun] = []
    raws: list[RawFinding] = []
    with tempfile.TemporaryDirectory(prefix="solsentry-code-") as tmp:
        work = target.work(Path(tmp))
        for tool in chosen.values():
            unit = Unit(UNIT, work, tool_key(tool, "bytecode", target.sha256()))
            run_units(tool, [unit], cache_store, options, runs, raws)
    findings = merge(raws, lambda _file: [])
    info = BytecodeInfo(codehash=target.codehash, code_size=len(target.code), address=target.address,
                        chain_id=target.chain_id)
    return _report(target.name, "bytecode", chosen, runs, [], findings, bytecode=info)


def _report(name: str, kind: str, tools: dict[str, Tool], runs: list[ToolRun], files: list[SourceFile],
            findings: list, bytecode: BytecodeInfo | None = None) -> Report:
    infos = []
    for tool_name, tool in tools.items():
        mine = [r for r in runs if r.tool == tool_name]
        infos.append(ToolInfo(name=tool_name, version=tool.version(), runs=len(mine),
                              **{s.value: sum(r.state == s for r in mine) for s in ToolState}))
    return Report(
        solsentry_version=__version__, target=name, target_kind=kind, tools=infos,
        tool_runs=sorted(runs, key=lambda r: (r.tool, r.unit)),
        files=sorted(files, key=lambda f: (f.dependency, f.path)),
        findings=findings, summary=summarize(findings), bytecode=bytecode,
        # Whether findings may be missing: a file not analyzed, a tool run not finished.
        complete=is_complete(files, runs),
    )


def _review(report: Report, target: Target, options: AuditOptions) -> Report:
    """Own compiled files go to the reviewer (dependencies are not the project's code)."""
    from auditor.review.base import apply_review
    from auditor.review.registry import get_reviewer

    kwargs: dict = {}
    if options.review == "embedded" and options.review_model:
        kwargs = {"model_dir": options.review_model}
    elif options.review == "llm":
        kwargs = {"model": options.llm_model, "adapter": options.llm_adapter, "model_name": options.llm_model_name}
    reviewer = get_reviewer(options.review, **kwargs)
    if reviewer is None:
        return report
    tick(options, "review", 0, 1)
    sources = {}
    for f in report.files:
        if not f.dependency and f.status == "compiled":
            try:
                sources[f.path] = (target.root / f.path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
    reviewed = apply_review(report, reviewer, sources)
    tick(options, "review", 1, 1)
    return reviewed


def _file_stages(planned: list[Planned], in_stage: dict[str, Tool], cache_store: ResultCache,
                 options: AuditOptions, files: dict[str, SourceFile]) -> tuple[dict[str, FileStage], set]:
    """Compile every own file (and run the `in_stage` tools on its output) in worker processes, or
    read the cache: the stage under its key, each tool's outcome under its own. Returns the stages
    and the (tool, file) pairs whose outcome came from the cache."""
    results: dict[str, FileStage] = {}
    cached: set[tuple[str, str]] = set()
    prior: dict[str, dict] = {}
    todo: list[tuple[Planned, tuple[Tool, ...]]] = []
    for p in planned:
        hit = cache_store.get(p.key)
        stage = stage_from_json(hit) if hit is not None else None
        missing = list(in_stage.values()) if stage is None else []
        if stage is not None and not stage.errors:
            for name, tool in in_stage.items():
                outcome = cache_store.get(tool_key(tool, "file", p.key))
                if outcome is None:
                    missing.append(tool)
                else:
                    stage.outcomes[name] = outcome_from_json(outcome)
                    cached.add((name, p.work.file))
        if stage is None or missing:
            prior[p.work.file] = stage.outcomes if stage is not None else {}
            todo.append((p, tuple(missing)))
        else:
            results[p.work.file] = stage
    done = len(results)
    tick(options, "compile", done, len(planned))
    if todo:
        pool = executors.pool(options.executor, min(jobs(options), len(todo)), options.ray_address,
                              initializer=worker_init)
        try:
            futures: dict[Future, tuple[Planned, tuple[Tool, ...]]] = {
                pool.submit(run_file_stage, p.work, run): (p, run) for p, run in todo}
            for fut in as_completed(futures):
                p, run = futures[fut]
                try:
                    stage = fut.result()
                except BrokenProcessPool:
                    stage = FileStage(errors=["the analysis worker crashed (out of memory?)"], infrastructure=True)
                except Exception as exc:  # a bug in a worker must not lose the other files' results
                    log.exception("file stage failed for %s", p.work.file)
                    stage = FileStage(errors=[f"internal error: {type(exc).__name__}: {exc}"], infrastructure=True)
                # Only outcomes of the code are kept: a compile error of the source, the tools' findings.
                if stage.cacheable:
                    cache_store.put(p.key, stage_to_json(stage))
                for tool in run:
                    outcome = stage.outcomes.get(tool.NAME)
                    if outcome is not None and stage.cacheable and not outcome.infrastructure:
                        cache_store.put(tool_key(tool, "file", p.key), outcome_to_json(outcome))
                stage.outcomes = {**prior[p.work.file], **stage.outcomes}
                results[p.work.file] = stage
                done += 1
                tick(options, "compile", done, len(planned))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    for p in planned:
        stage, entry = results[p.work.file], files[p.work.file]
        if stage.errors:
            entry.status, entry.error = "error", _first_error(stage.errors)
    return results, cached


def _file_runs(tool: Tool, in_stage: bool, planned: list[Planned], stages: dict[str, FileStage], cached: set,
               files: dict[str, SourceFile], cache_store: ResultCache, options: AuditOptions,
               runs: list[ToolRun], raws: list[RawFinding]) -> None:
    """One file-scope tool's runs: its outcomes from the file stage, or its own run per compiled file."""
    units = []
    for p in planned:
        stage = stages[p.work.file]
        if stage.errors:
            skip(tool, [p.work.file], "not compiled", runs)
        elif not in_stage:
            units.append(Unit(p.work.file, p.work, tool_key(tool, "file", p.key)))
        elif (outcome := stage.outcomes.get(tool.NAME)) is not None:
            run_outcome(tool, Unit(p.work.file, p.work, ""), runs, raws, outcome, (tool.NAME, p.work.file) in cached)
    if not in_stage:
        run_units(tool, units, cache_store, options, runs, raws)
    done = {r.unit for r in runs if r.tool == tool.NAME}
    skip(tool, [e.path for e in files.values() if e.status == "error" and e.path not in done], "not compiled", runs)


def _contract_units(tool: Tool, planned: list[Planned], stages: dict[str, FileStage]) -> list[Unit]:
    units = []
    for p in planned:
        stage = stages.get(p.work.file)
        if stage is None or stage.errors:
            continue
        for c in stage.contracts:
            units.append(Unit(f"{p.work.file}:{c.name}", replace(p.work, contract=c.name),
                              tool_key(tool, p.key, c.name)))
    return units


def _first_error(errors: list[str]) -> str:
    text = errors[0].strip()
    return text if len(text) < 2000 else text[:2000] + " ..."


def _line_reader(target: Target) -> Callable[[str], list[str]]:
    @cache
    def read(rel: str) -> list[str]:
        try:
            return (target.root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
    return read
