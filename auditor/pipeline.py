"""`audit(target, options) -> Report`: the one path every caller (CLI, API, oracle, eval) uses."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from auditor import __version__, compiled, executors
from auditor.cache import ResultCache, outcome_from_json, outcome_to_json
from auditor.config import get_settings
from auditor.errors import AuditorError
from auditor.merge import merge
from auditor.report.model import Report, SourceFile, ToolInfo, ToolRun, ToolState, is_complete, summarize
from auditor.solc.provider import SolcProvider
from auditor.solc.sources import compilation_unit, unit_constraints
from auditor.stages import Deployable, FileStage, run_file_stage, worker_init
from auditor.suppress import apply_baseline, apply_inline, load_baseline
from auditor.targets import Target, load_target
from auditor.tools.base import RawFinding, Tool, ToolOutcome, Work
from auditor.tools.registry import TOOL_NAMES, get_tool

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]   # (stage, done, total)


@dataclass
class AuditOptions:
    tools: tuple[str, ...] = TOOL_NAMES
    jobs: int | None = None
    mythril_timeout: int | None = None
    use_cache: bool = True
    include_dependencies: bool = False
    include_tests: bool = False
    baseline: Path | None = None
    # "embedded": the bundled review model judges findings and adds its own; "none": tools only.
    review: str = "embedded"
    review_model: Path | None = None      # a trained model directory instead of the bundled one
    # --review llm: the model (local directory, hub id or OpenAI-compatible base URL) and its options
    llm_model: str | None = None
    llm_adapter: str | None = None
    llm_model_name: str | None = None
    # Where the file stages run: "local" processes or "ray" tasks (on ray_address, or a local instance)
    executor: str = "local"
    ray_address: str | None = None
    # Directories outside the target that its imports may read (CLI --allow-path; auditor/sandbox.py).
    allow_paths: tuple[str, ...] = ()
    # An audit run for someone else (API, oracle): only the submitted files are read, no enclosing
    # project is consulted, and no compiler is installed (only cached ones are used).
    hosted: bool = False
    progress: Progress | None = field(default=None, repr=False)


@dataclass
class _Planned:
    work: Work
    key: str                      # cache key of the file stage (sources + compilers to try + tool versions)
    deps: tuple[str, ...] = ()    # the dependency entries of `files` this file's plan created
    note: str | None = None       # why the project's configured compiler was not used, if it was not


def audit(path: str | Path, options: AuditOptions | None = None) -> Report:
    options = options or AuditOptions()
    started = time.monotonic()
    settings = get_settings()
    from auditor.review.registry import REVIEW_NAMES

    if options.review not in REVIEW_NAMES:
        raise AuditorError(f"unknown review {options.review!r}; available: {', '.join(REVIEW_NAMES)}")
    unknown = [t for t in options.tools if t not in TOOL_NAMES]
    if unknown or not options.tools:
        raise AuditorError(f"unknown tool(s) {', '.join(unknown) or '(none given)'}; available: "
                           f"{', '.join(TOOL_NAMES)}")
    target = load_target(path, include_tests=options.include_tests, allow_paths=options.allow_paths,
                         hosted=options.hosted)
    accepted = load_baseline(options.baseline) if options.baseline else set()
    tools = {n: get_tool(n, execution_timeout=options.mythril_timeout) if n == "mythril" else get_tool(n)
             for n in options.tools}
    cache_store = ResultCache(settings.results_path, enabled=options.use_cache)
    runs: list[ToolRun] = []
    files: dict[str, SourceFile] = {}
    raws: list[RawFinding] = []

    planned = _plan(target, files, tools, settings.max_source_bytes, install=not options.hosted)
    stages = _file_stages(planned, tools, cache_store, options, runs, files, raws)
    compiled.record(planned, stages, files)   # the compiler that worked: into the report, and for Mythril

    mythril = tools.get("mythril")
    if mythril is not None:
        _mythril_stage(mythril, planned, stages, cache_store, options, runs, raws)

    lines = _line_reader(target)
    findings = merge(raws, lines)
    if not options.include_dependencies:
        findings = [f for f in findings if not target.is_dependency(target.root / f.primary.file)]
    apply_inline(findings, lines)
    apply_baseline(findings, accepted)
    infos = []
    for name, tool in tools.items():
        mine = [r for r in runs if r.tool == name]
        infos.append(ToolInfo(name=name, version=tool.version(), runs=len(mine),
                              **{s.value: sum(r.state == s for r in mine) for s in ToolState}))
    report = Report(
        solsentry_version=__version__, target=str(path), target_kind=target.kind, tools=infos,
        tool_runs=sorted(runs, key=lambda r: (r.tool, r.unit)),
        files=sorted(files.values(), key=lambda f: (f.dependency, f.path)),
        findings=findings, summary=summarize(findings),
        # Whether findings may be missing: a file not analyzed, a tool run not finished.
        complete=is_complete(list(files.values()), runs),
    )
    if options.review != "none":
        report = _review(report, target, options)
    return report.model_copy(update={"duration_s": round(time.monotonic() - started, 3)})


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
    _tick(options, "review", 0, 1)
    sources = {}
    for f in report.files:
        if not f.dependency and f.status == "compiled":
            try:
                sources[f.path] = (target.root / f.path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
    reviewed = apply_review(report, reviewer, sources)
    _tick(options, "review", 1, 1)
    return reviewed


def _plan(target: Target, files: dict[str, SourceFile], tools: dict[str, Tool], max_bytes: int,
          install: bool = True) -> list[_Planned]:
    provider = SolcProvider(install=install)
    allow = tuple(target.sandbox.as_args()) if target.sandbox else ()
    remaps = tuple(str(r) for r in target.remappings)
    include = tuple(str(p) for p in target.include_roots)
    versions = "|".join(f"{n}={t.version()}" for n, t in sorted(tools.items()) if t.SCOPE == "file")
    planned = []
    _refused_links(target, files)
    for src in target.sources:
        rel = target.relpath(src)
        data = src.read_bytes()
        entry = SourceFile(path=rel, sha256=hashlib.sha256(data).hexdigest())
        files[rel] = entry
        if len(data) > max_bytes:
            entry.status, entry.error = "error", (
                f"file is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit "
                "(SOLSENTRY_MAX_SOURCE_BYTES)")
            continue
        try:
            unit = compilation_unit([src], target.remappings, target.include_roots, target.sandbox)
            refused = [why for sf in unit.values() for why in sf.refused.values()]
            if refused:
                entry.status, entry.error = "error", "; ".join(dict.fromkeys(refused))
                continue
            # The compilers to try in order: the project's, the newest allowed, older fallbacks.
            choice = compiled.candidates_for(provider, target, src,
                                             [(target.relpath(p), c) for p, c in unit_constraints(unit)])
        except AuditorError as exc:
            entry.status, entry.error = "error", str(exc)
            continue
        entry.solc = choice.first.version
        members = sorted(unit)
        deps = []
        for dep in members:
            drel = target.relpath(dep)
            if drel not in files and target.is_dependency(dep):
                files[drel] = SourceFile(path=drel, sha256=hashlib.sha256(dep.read_bytes()).hexdigest(),
                                         dependency=True, solc=choice.first.version)
                deps.append(drel)
        names = tuple(target.relpath(p) for p in members)
        content = hashlib.sha256()
        for p, n in zip(members, names, strict=True):
            content.update(n.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
        work = Work(root=str(target.root), file=rel, unit=names, remappings=remaps, include=include, allow=allow,
                    **compiled.work_fields(choice))
        key = ResultCache.key("file-stage", rel, content.hexdigest(), choice.key(), remaps, versions)
        planned.append(_Planned(work, key, tuple(deps), choice.note))
    return planned


def _refused_links(target: Target, files: dict[str, SourceFile]) -> None:
    """Own `.sol` entries that are symbolic links to outside the project: errors of the audit (the
    sandbox refuses them), not silently skipped. Their hash is of the link text, as git stores it."""
    rule = target.sandbox.rule if target.sandbox else "only files inside the audited project may be read"
    for link, why in target.skipped:
        if "outside the project root" not in why:
            continue
        rel = Path(os.path.relpath(link, target.root)).as_posix()
        files[rel] = SourceFile(path=rel, sha256=hashlib.sha256(os.readlink(link).encode()).hexdigest(),
                                status="error", error=f"{rel} refused: a symbolic link leads outside the project "
                                                      f"({rule})")


def _file_stages(planned: list[_Planned], tools: dict[str, Tool], cache_store: ResultCache, options: AuditOptions,
                 runs: list[ToolRun], files: dict[str, SourceFile], raws: list[RawFinding]) -> dict[str, FileStage]:
    """Compile every own file (and run Slither on it) in worker processes, or read the cache."""
    with_slither = "slither" in tools
    results: dict[str, FileStage] = {}
    todo = []
    for p in planned:
        hit = cache_store.get(p.key + ("+slither" if with_slither else ""))
        if hit is not None:
            results[p.work.file] = _stage_from_json(hit)
        else:
            todo.append(p)
    done = len(results)
    _tick(options, "compile", done, len(planned))
    if todo:
        jobs = min(_jobs(options), len(todo))
        pool = executors.pool(options.executor, jobs, options.ray_address, initializer=worker_init)
        try:
            futures: dict[Future, _Planned] = {pool.submit(run_file_stage, p.work, with_slither): p for p in todo}
            for fut in as_completed(futures):
                p = futures[fut]
                try:
                    stage = fut.result()
                except BrokenProcessPool:
                    stage = FileStage(errors=["the analysis worker crashed (out of memory?)"], infrastructure=True)
                except Exception as exc:  # a bug in a worker must not lose the other files' results
                    log.exception("file stage failed for %s", p.work.file)
                    stage = FileStage(errors=[f"internal error: {type(exc).__name__}: {exc}"], infrastructure=True)
                results[p.work.file] = stage
                # Only outcomes of the code are kept: a compile error of the source, Slither's findings.
                if stage.cacheable:
                    cache_store.put(p.key + ("+slither" if with_slither else ""), _stage_to_json(stage))
                done += 1
                _tick(options, "compile", done, len(planned))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    cached = {p.work.file for p in planned if p not in todo}
    for p in planned:
        stage = results[p.work.file]
        entry = files[p.work.file]
        if stage.errors:
            entry.status, entry.error = "error", _first_error(stage.errors)
            if with_slither:
                runs.append(ToolRun(tool="slither", unit=p.work.file, state=ToolState.SKIPPED,
                                    message="not compiled"))
            continue
        if with_slither and stage.slither is not None:
            o = stage.slither
            runs.append(ToolRun(tool="slither", unit=p.work.file, state=ToolState(o.state), message=o.message,
                                duration_s=round(o.duration_s, 3), findings=len(o.findings),
                                cached=p.work.file in cached))
            raws.extend(o.findings)
    for entry in files.values():
        if entry.status == "error" and with_slither and not any(r.unit == entry.path for r in runs):
            runs.append(ToolRun(tool="slither", unit=entry.path, state=ToolState.SKIPPED, message="not compiled"))
    return results


def _mythril_stage(tool: Tool, planned: list[_Planned], stages: dict[str, FileStage], cache_store: ResultCache,
                   options: AuditOptions, runs: list[ToolRun], raws: list[RawFinding]) -> None:
    reason = tool.unavailable()
    jobs: list[tuple[Work, Deployable, str]] = []
    for p in planned:
        stage = stages.get(p.work.file)
        if stage is None or stage.errors:
            continue
        for c in stage.contracts:
            work = Work(**{**asdict(p.work), "contract": c.name})
            key = ResultCache.key("mythril", p.key, c.name, tool.version(), tool.settings_key())
            jobs.append((work, c, key))
    if reason:
        for work, c, _ in jobs:
            runs.append(ToolRun(tool="mythril", unit=f"{work.file}:{c.name}", state=ToolState.SKIPPED,
                                message=reason))
        return

    def one(item: tuple[Work, Deployable, str]) -> tuple[ToolOutcome, bool]:
        work, _c, key = item
        hit = cache_store.get(key)
        if hit is not None:
            return outcome_from_json(hit), True
        outcome = tool.run(work)
        # Findings, and a timeout under the budget in the key (settings_key), are outcomes of the code;
        # a crash, a memory kill or a kill under a limit the key does not hold are not (re-run next time).
        if not outcome.infrastructure:
            cache_store.put(key, outcome_to_json(outcome))
        return outcome, False

    _tick(options, "mythril", 0, len(jobs))
    with ThreadPoolExecutor(_jobs(options)) as pool:
        futures = {pool.submit(one, item): item for item in jobs}
        for i, fut in enumerate(as_completed(futures), 1):
            work, c, _ = futures[fut]
            try:
                outcome, cached = fut.result()
            except Exception as exc:
                log.exception("mythril failed on %s:%s", work.file, c.name)
                outcome, cached = ToolOutcome("failed", message=f"internal error: {exc}"), False
            runs.append(ToolRun(tool="mythril", unit=f"{work.file}:{c.name}", state=ToolState(outcome.state),
                                message=outcome.message, duration_s=round(outcome.duration_s, 3),
                                findings=len(outcome.findings), cached=cached))
            raws.extend(outcome.findings)
            _tick(options, "mythril", i, len(jobs))


def _stage_to_json(stage: FileStage) -> dict:
    return {"errors": stage.errors, "warnings": stage.warnings, "contracts": [asdict(c) for c in stage.contracts],
            "slither": outcome_to_json(stage.slither) if stage.slither else None,
            "solc": list(stage.solc) if stage.solc else None, "solc_note": stage.solc_note}


def _stage_from_json(d: dict) -> FileStage:
    return FileStage(errors=d["errors"], warnings=d.get("warnings", 0),
                     contracts=[Deployable(**c) for c in d["contracts"]],
                     slither=outcome_from_json(d["slither"]) if d.get("slither") else None,
                     solc=tuple(d["solc"]) if d.get("solc") else None, solc_note=d.get("solc_note"))


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


def _jobs(options: AuditOptions) -> int:
    return max(1, options.jobs or os.cpu_count() or 1)


def _tick(options: AuditOptions, stage: str, done: int, total: int) -> None:
    if options.progress is not None:
        options.progress(stage, done, total)

