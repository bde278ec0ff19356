"""The file stages of a source audit: read from the cache, or computed in build groups.

Every own file has its own stage and its own cached tool outcomes, keyed by its unit's content
(auditor/plan.py). What is missing is computed in as few compilations as the plan allows: files
that compile with the same compiler, settings and remappings form one build group
(auditor/group_stage.py), compiled once and analyzed once, like the project's own build. A file
the group cannot take (it does not compile with the group's compiler, solc < 0.4.12, a tool crash)
gets its own file stage with the whole fallback chain (auditor/stages.py).

Incremental: after an edit, the files whose unit changed (the edited file and every file that
imports it) miss the cache; only they are compiled again, as one group. What a re-audit cannot
reuse partially is a cross-contract verdict of a file that was not re-analyzed (e.g. Slither's
`dead-code` on a function whose last caller was just removed in another file): it stays as its
last build judged it until that file's unit changes or `--no-cache` (docs/architecture.md).
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool

from auditor.cache import ResultCache, outcome_from_json, outcome_to_json
from auditor.group_stage import GroupResult, run_group_stage
from auditor.options import AuditOptions
from auditor.plan import Planned
from auditor.report.model import SourceFile
from auditor.runtime import executors
from auditor.stages import FileStage, run_file_stage, stage_from_json, stage_to_json, warm_up, worker_init
from auditor.targets import Target
from auditor.tools.base import Tool
from auditor.units import jobs, tick, tool_key

log = logging.getLogger(__name__)
Todo = tuple[Planned, tuple[Tool, ...]]


class Workers:
    """The stage workers of one audit. `warm` starts the first one before planning: it imports the
    tools (Slither: ~1 s) and loads the project's compilers while the parent plans, which is what
    a re-audit after a one-file edit would otherwise wait for. That worker is a pool of its own
    (one process) and takes the first stage submitted, so the stage cannot land on a second, cold
    worker; the other stages go to a pool of the remaining `--jobs`."""

    def __init__(self, options: AuditOptions) -> None:
        self.options = options
        self.first = None             # the warm worker's pool (one process)
        self.first_taken = False
        self.main = None              # the pool of the other workers
        self.pools: list = []         # every pool started, for close()
        self.used = False             # stages were submitted (else only the warm-up ran)

    def warm(self, tools: tuple[Tool, ...], target: Target) -> None:
        if self.options.executor == "local" and tools:
            self.first = self._new(1)
            self.first.submit(warm_up, tools, _configured_compilers(target))

    def submit(self, fn, *args) -> Future:
        self.used = True
        if self.first is not None and not self.first_taken:
            self.first_taken = True
            return self.first.submit(fn, *args)
        if self.main is None:
            # With --jobs 1 the warm worker is the only one; else the others make up --jobs.
            self.main = self.first if self.first is not None and jobs(self.options) == 1 else self._new(self._rest())
        return self.main.submit(fn, *args)

    def renew(self) -> None:
        """A worker died and broke its pool: the stages submitted from now on go to a new one."""
        self.first_taken = True
        self.main = self._new(self._rest())

    def _rest(self) -> int:
        return max(1, jobs(self.options) - (1 if self.first is not None else 0))

    def _new(self, size: int):
        pool = executors.pool(self.options.executor, size, self.options.ray_address, initializer=worker_init)
        self.pools.append(pool)
        return pool

    def close(self) -> None:
        for pool in self.pools:
            if self.used:
                pool.shutdown(wait=True, cancel_futures=True)
                continue
            # Only the warm-up ran: stop it rather than wait for its imports to finish. Killed first,
            # then joined: shutdown(wait=False) would leave the pool's wake-up pipe to a race with
            # the interpreter's exit ("Bad file descriptor" from concurrent.futures at exit).
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
        self.pools.clear()


def _configured_compilers(target: Target) -> tuple[tuple[str, str], ...]:
    """(version, path) of the installed solc-js compilers the project's config names."""
    if target.compilers is None:
        return ()
    from auditor.solc.provider import SolcProvider

    wanted = {spec.version for spec in target.compilers.compilers[:2]}
    installed = SolcProvider(install=False).installed()
    return tuple((str(b.version), str(b.path)) for b in installed if str(b.version) in wanted and b.kind == "solc-js")


def file_stages(planned: list[Planned], in_stage: dict[str, Tool], cache_store: ResultCache,
                options: AuditOptions, files: dict[str, SourceFile], workers: Workers | None = None
                ) -> tuple[dict[str, FileStage], set]:
    """Every planned file's stage (compile verdict, deployable contracts, the `in_stage` tools'
    outcomes), and the (tool, file) pairs whose outcome came from the cache."""
    results: dict[str, FileStage] = {}
    cached: set[tuple[str, str]] = set()
    prior: dict[str, dict] = {}
    todo: list[Todo] = []
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
    total = len(planned)
    tick(options, "compile", len(results), total)
    own = workers is None
    workers = workers or Workers(options)
    try:
        if todo:
            _compute(todo, planned, cache_store, options, prior, results, total, workers)
    finally:
        if own:
            workers.close()
    for p in planned:
        stage, entry = results[p.work.file], files[p.work.file]
        if stage.errors:
            entry.status, entry.error = "error", _first_error(stage.errors)
    return results, cached


def groups(todo: list[Todo]) -> list[list[Todo]]:
    """The build groups: files whose stage compiles first with the same compiler and settings,
    remappings and sandbox, and runs the same tools (the fallbacks after the first compiler only
    matter to a file split out of its group, which tries them on its own)."""
    by: dict[tuple, list[Todo]] = {}
    for item in todo:
        w = item[0].work
        key = (w.candidates[:1], w.solc_path, w.solc_settings, w.remappings, w.include, w.allow, w.codegen,
               tuple(t.NAME for t in item[1]))
        by.setdefault(key, []).append(item)
    return [sorted(g, key=lambda i: i[0].work.file) for g in by.values()]


def _compute(todo: list[Todo], planned: list[Planned], cache_store: ResultCache, options: AuditOptions,
             prior: dict[str, dict], results: dict[str, FileStage], total: int, workers: Workers) -> None:
    own = {p.work.file for p in planned}
    by_file = {p.work.file: (p, run) for p, run in todo}
    # The largest first: it goes to the warm worker, which started before the plan was done.
    batches = sorted(groups(todo), key=len, reverse=True)

    def submit_file(item: Todo) -> Future:
        work = item[0].work
        foreign = tuple(sorted(f for f in work.unit if f in own and f != work.file))
        fut = workers.submit(run_file_stage, work, item[1], foreign)
        pending[fut] = [item]
        return fut

    def keep(item: Todo, stage: FileStage) -> None:
        p, run = item
        # Only outcomes of the code are kept: a compile error of the source, the tools' findings.
        if stage.cacheable:
            cache_store.put(p.key, stage_to_json(stage))
        for tool in run:
            outcome = stage.outcomes.get(tool.NAME)
            if outcome is not None and stage.cacheable and not outcome.infrastructure:
                cache_store.put(tool_key(tool, "file", p.key), outcome_to_json(outcome))
        stage.outcomes = {**prior[p.work.file], **stage.outcomes}
        results[p.work.file] = stage
        tick(options, "compile", len(results), total)

    pending: dict[Future, list[Todo]] = {}
    for batch in batches:
        if len(batch) == 1:
            submit_file(batch[0])
            continue
        members = {i[0].work.file for i in batch}
        foreign = tuple(sorted(own - members))
        fut = workers.submit(run_group_stage, tuple(i[0].work for i in batch), batch[0][1], foreign)
        pending[fut] = batch
    while pending:
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for fut in done:
            items = pending.pop(fut)
            try:
                value = fut.result()
            except BrokenProcessPool:
                value = FileStage(errors=["the analysis worker crashed (out of memory?)"], infrastructure=True)
            except Exception as exc:  # a bug in a worker must not lose the other files' results
                log.exception("stage failed for %s", ", ".join(i[0].work.file for i in items))
                value = FileStage(errors=[f"internal error: {type(exc).__name__}: {exc}"], infrastructure=True)
            if isinstance(value, GroupResult):
                for file, stage in value.stages.items():
                    keep(by_file[file], stage)
                for file in value.redo:
                    submit_file(by_file[file])
            elif len(items) > 1:      # the group's worker died (memory?): each member on its own
                if isinstance(fut.exception(), BrokenProcessPool):
                    workers.renew()
                for item in items:
                    submit_file(item)
            else:
                keep(items[0], value)


def _first_error(errors: list[str]) -> str:
    text = errors[0].strip()
    return text if len(text) < 2000 else text[:2000] + " ..."
