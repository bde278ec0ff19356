"""The build-group stage, in a worker process: compile several own files as ONE compilation (the
union of their units) and run the file-scope tools once on its output, as `slither .` does on a
project's one build; then hand each member file the stage and the findings that are its own.

Why: a project's files share most of their imports (a token, its `utils`, its base contracts),
so one stage per file compiled and analyzed the shared code once per importer (5x slower than
Slither on one build, docs/benchmarks.md). The result is still one `FileStage` per member, cached
under that file's own key (auditor/plan.py), so a later audit re-analyzes only the files whose
unit changed (auditor/build.py).

A group that does not compile is not lost: members whose unit holds a file solc names in an error
are split out, an error without a file halves the group, and every member split out goes back to
the parent as `redo`, for its own file stage with the whole fallback chain (auditor/stages.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from auditor.stages import FileStage, deployables, stage_outputs
from auditor.tools.base import RawFinding, Tool, ToolOutcome, Work


@dataclass
class GroupResult:
    stages: dict[str, FileStage] = field(default_factory=dict)   # member file -> its stage
    redo: list[str] = field(default_factory=list)                # members for their own file stage
    compiles: int = 0                                            # group compilations it took


def run_group_stage(works: tuple[Work, ...], tools: tuple[Tool, ...] = (), foreign: tuple[str, ...] = ()
                    ) -> GroupResult:
    """`works`: the members (same compiler, settings, remappings and sandbox); `foreign`: own files
    of the audit that are not members (their findings belong to their own stage, not to this one)."""
    result = GroupResult()
    batches = [list(works)]
    while batches:
        batch = batches.pop()
        if not batch:
            continue
        if len(batch) == 1:
            result.redo.append(batch[0].file)
            continue
        compiled = _compile(batch, tools)
        result.compiles += 1
        if compiled is None:                  # no verdict (timeout, crash): each member on its own
            result.redo.extend(w.file for w in batch)
            continue
        output, used, errors_in = compiled
        if errors_in is not None:
            broken = [w for w in batch if errors_in & set(w.unit)]
            if broken:                        # they fail in any group: each on its own, with fallbacks
                result.redo.extend(w.file for w in broken)
                batches.append([w for w in batch if w not in broken])
            else:                             # no file to blame: halve
                half = len(batch) // 2
                batches += [batch[:half], batch[half:]]
            continue
        if any(not s.get("ast") for s in output.get("sources", {}).values()):
            result.redo.extend(w.file for w in batch)     # solc < 0.4.12: Slither compiles per file
            continue
        stages = _analyze(batch, tools, output, used, set(foreign))
        if stages is None:                    # a tool crashed on the group: isolate it per file
            result.redo.extend(w.file for w in batch)
            continue
        result.stages.update(stages)
    return result


def _compile(batch: list[Work], tools: tuple[Tool, ...]):
    """(output, candidate used, None) when it compiled; (output, used, files solc blames) when
    not; None when there is no compiler verdict."""
    from auditor.errors import AuditorError
    from auditor.solc.compiler import compile_files
    from auditor.solc.fallback import candidate_binary
    from auditor.solc.settings import Candidate, CompilerSettings
    from auditor.solc.sources import Remapping

    first = batch[0]
    cand = Candidate.from_tuple(first.candidates[0]) if first.candidates else Candidate(
        first.solc_version, first.solc_path, first.solc_kind, CompilerSettings.from_json(first.solc_settings))
    outputs = stage_outputs(first, tools)
    root = Path(first.root)
    unit = list(dict.fromkeys(f for w in batch for f in w.unit))
    try:
        binary = candidate_binary(cand)
        compiled = compile_files([root / f for f in unit], root, [Remapping.parse(r) for r in first.remappings],
                                 binary=binary, outputs=outputs, ast=True, settings=cand.settings,
                                 include=[Path(p) for p in first.include], allow=[Path(p) for p in first.allow],
                                 timeout=max(w.timeout_s for w in batch))
    except AuditorError:
        return None
    used = replace(cand, path=str(binary.path), kind=binary.kind)
    if not compiled.errors:
        return compiled.output, used, None
    blamed = {(e.get("sourceLocation") or {}).get("file") for e in compiled.output.get("errors", [])
              if e.get("severity") == "error"}
    return compiled.output, used, {b for b in blamed if b}


def _analyze(batch: list[Work], tools: tuple[Tool, ...], output: dict, used, foreign: set[str]
             ) -> dict[str, FileStage] | None:
    root = Path(batch[0].root)
    members = {w.file for w in batch}
    warnings = _warnings_by_file(output)
    stages = {w.file: FileStage(warnings=warnings.get(w.file, 0), solc=used.as_tuple(),
                                contracts=deployables(output, w.file, root, w.codegen)) for w in batch}
    unit = tuple(dict.fromkeys(f for w in batch for f in w.unit))
    group_work = replace(batch[0], unit=unit, solc_path=used.path, solc_version=used.version, solc_kind=used.kind,
                         solc_settings=used.settings.to_json())
    for tool in tools:
        outcome = tool.analyze_compiled(output, group_work)
        if outcome.infrastructure and len(batch) > 1:
            return None
        share = outcome.duration_s / len(batch)
        mine: dict[str, list[RawFinding]] = {f: [] for f in members}
        for raw in outcome.findings:
            owner = _owner(raw, batch, members, foreign, tool.BUILD_WIDE)
            if owner is not None:
                mine[owner].append(raw)
        for w in batch:
            stages[w.file].outcomes[tool.NAME] = ToolOutcome(
                outcome.state, mine[w.file], message=outcome.message, duration_s=share,
                infrastructure=outcome.infrastructure)
    return stages


def _owner(raw: RawFinding, batch: list[Work], members: set[str], foreign: set[str],
           build_wide: frozenset[str] = frozenset()) -> str | None:
    """The member a finding belongs to: the one whose file holds its first location; a finding in
    a dependency goes to the first member that imports that file; one in another own file (not a
    member) to nobody: that file's own stage reports it."""
    where = raw.locations[0].file if raw.locations else None
    if where in members:
        return where
    if raw.detector in build_wide:   # one result over the build's files: the first member listed owns it
        listed = next((loc.file for loc in raw.locations if loc.file in members), None)
        if listed is not None:
            return listed
    if where in foreign:
        return None
    return next((w.file for w in batch if where in w.unit), batch[0].file)


def _warnings_by_file(output: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in output.get("errors", []):
        if e.get("severity") != "error":
            file = (e.get("sourceLocation") or {}).get("file")
            if file:
                counts[file] = counts.get(file, 0) + 1
    return counts
