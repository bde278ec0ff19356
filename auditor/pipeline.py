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
from dataclasses import replace
from functools import cache
from pathlib import Path

from auditor import __version__, compiled, memo
from auditor.build import Workers, file_stages
from auditor.cache import ResultCache
from auditor.config import get_settings
from auditor.errors import AuditorError
from auditor.filters import drop_excluded, filter_findings
from auditor.merge import merge
from auditor.options import AuditOptions, Progress
from auditor.plan import Planned, plan
from auditor.report.model import BytecodeInfo, Report, SourceFile, ToolInfo, ToolRun, ToolState, is_complete, summarize
from auditor.stages import FileStage
from auditor.suppress import apply_baseline, apply_inline, load_baseline
from auditor.targets import Target, load_target
from auditor.targets.bytecode import UNIT, BytecodeTarget
from auditor.tools.base import RawFinding, Tool, scopes
from auditor.tools.registry import get_tool, tool_names
from auditor.units import Unit, run_outcome, run_units, skip, tick, tool_key

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
    cache_store = ResultCache(settings.results_path, enabled=options.use_cache, scope=options.cache_scope)
    if isinstance(path, BytecodeTarget):
        report = _audit_bytecode(path, tools, cache_store, options)
    else:
        key = memo.memo_key(path, options, tools, settings.solc_dir)
        report = memo.lookup(cache_store, key, path)
        if report is None:
            report = _audit_sources(path, tools, cache_store, options, settings.max_source_bytes)
            memo.store(cache_store, key, report)
    return report.model_copy(update={"duration_s": round(time.monotonic() - started, 3)})


def _audit_sources(path: str | Path, tools: dict[str, Tool], cache_store: ResultCache, options: AuditOptions,
                   max_bytes: int) -> Report:
    target = load_target(path, include_tests=options.include_tests, allow_paths=options.allow_paths,
                         hosted=options.hosted)
    target = compiled.override(drop_excluded(target, options.exclude_paths), options.compiler_override)
    accepted = load_baseline(options.baseline) if options.baseline else set()
    runs: list[ToolRun] = []
    files: dict[str, SourceFile] = {}
    raws: list[RawFinding] = []

    in_stage = {n: t for n, t in tools.items() if "file" in scopes(t) and t.COMPILED_OUTPUTS and not t.unavailable()}
    workers = Workers(options)
    workers.warm(tuple(in_stage.values()), target)      # their imports overlap the planning
    try:
        # Code is generated only for the tools that analyze deployable contracts' bytecode.
        codegen = any("contract" in scopes(t) for t in tools.values())
        planned = plan(target, files, max_bytes, install=not options.hosted, codegen=codegen)
        stages, cached = file_stages(planned, in_stage, cache_store, options, files, workers)
    finally:
        workers.close()
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
    findings = filter_findings(findings, options, target.root)
    report = _report(str(path), target.kind, tools, runs, list(files.values()), findings)
    if options.review != "none":
        report = _review(report, target, options)
        # The model's own findings follow the same detector and severity rules as the tools'.
        kept = filter_findings(report.findings, options, target.root)
        if len(kept) != len(report.findings):
            report = report.model_copy(update={"findings": kept, "summary": summarize(kept)})
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


def _line_reader(target: Target) -> Callable[[str], list[str]]:
    @cache
    def read(rel: str) -> list[str]:
        try:
            return (target.root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
    return read
