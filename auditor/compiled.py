"""The compiler of each file, from the plan to the report.

The plan asks `candidates_for` which compilers a file may be compiled with (the project's
configured one first, auditor/solc/choice.py); the file stage compiles with the first that
accepts it (auditor/solc/fallback.py); `record` then writes the one that did, its settings and
any note into the report's `files`, and hands it to the later per-contract tools (Mythril must
compile with exactly the version and settings that worked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from auditor.errors import PragmaError
from auditor.report.model import CompilerSettings as SettingsInfo
from auditor.report.model import SourceFile
from auditor.solc.choice import Choice, choose
from auditor.solc.provider import SolcProvider
from auditor.solc.settings import Candidate, CompilerSettings
from auditor.solc.versions import Constraint, Version
from auditor.stages import FileStage
from auditor.targets import Target
from auditor.targets.compilers import with_override
from auditor.tools.base import Work


class Planned(Protocol):
    work: Work
    deps: tuple[str, ...]          # dependency entries of `files` this file's plan created
    note: str | None               # the plan's note (a configured compiler that could not be used)


def candidates_for(provider: SolcProvider, target: Target, src: Path,
                   constraints: Sequence[tuple[str, Constraint]], prefer: Version | None = None) -> Choice:
    """The ordered compilers for the own file `src` whose unit has `constraints`; `prefer`: the
    installed version to try first when the project configures none (plan.common_versions)."""
    config = target.compilers
    if config is None:
        return choose(provider, constraints, prefer=prefer)
    specs, default = config.for_file(src)
    choice = choose(provider, constraints, specs, default, config.origin)
    if not config.pinned:
        return choice
    # A pinned compiler (the SolSentry config's [compiler] version) is the only one to try: falling
    # back to another would audit with a compiler the user ruled out.
    if choice.first.origin != config.origin:
        pinned = Version.parse(specs[0].version)
        refusing = [f"{name}: pragma solidity {c.text}" for name, c in constraints if not c.allows(pinned)]
        if refusing:
            raise PragmaError(f"{config.origin} pins solc {pinned}, which the pragmas do not allow "
                              f"({'; '.join(refusing)})")
        if choice.note and "could not be used" in choice.note:    # an install that failed says why
            raise PragmaError(choice.note)
        where = "the known solc releases" if provider.may_install else "the installed compilers"
        raise PragmaError(f"{config.origin} pins solc {pinned}, which is not among {where}")
    return Choice([choice.first])


def override(target: Target, compiler_override: dict | None) -> Target:
    """`target` with the SolSentry config's [compiler] overrides over its project's compilers."""
    if not compiler_override:
        return target
    return replace(target, compilers=with_override(target.compilers, compiler_override, target.root))


def work_fields(choice: Choice) -> dict:
    """The `Work` fields that name the compilers to try."""
    first = choice.first
    return {"solc_path": first.path, "solc_version": first.version, "solc_kind": first.kind,
            "solc_settings": first.settings.to_json(),
            "candidates": tuple(c.as_tuple() for c in choice.candidates)}


def record(planned: Sequence[Planned], stages: dict[str, FileStage], files: dict[str, SourceFile]) -> None:
    for p in planned:
        stage = stages.get(p.work.file)
        entry = files.get(p.work.file)
        if stage is None or entry is None:
            continue
        used = Candidate.from_tuple(stage.solc) if stage.solc else None
        entry.solc_note = "; ".join(n for n in (p.note, stage.solc_note) if n) or None
        if used is None:        # a stage without a compiler verdict (the worker crashed): the plan's choice
            continue
        entry.solc = used.version
        if not stage.errors:
            entry.compiler_settings = _info(used.settings)
            for dep in p.deps:
                if dep in files:
                    files[dep].solc = used.version
            # A compiler path from the cache may be gone (cleaned, moved): keep the plan's then.
            path = used.path if Path(used.path).is_file() or used.version != p.work.solc_version \
                else p.work.solc_path
            p.work = replace(p.work, solc_path=path, solc_version=used.version, solc_kind=used.kind,
                             solc_settings=used.settings.to_json(), candidates=())


def _info(settings: CompilerSettings) -> SettingsInfo:
    return SettingsInfo(optimizer=settings.optimizer, runs=settings.runs, via_ir=settings.via_ir,
                        evm_version=settings.evm_version)
