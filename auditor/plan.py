"""The plan of a source audit: for each own file, the unit it compiles with, the compilers to try
(auditor/compiled.py), its `Work` and the cache key of its file stage. Files that cannot be
planned (too large, refused imports, no compiler) are errors in `files` and are not planned."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from auditor import compiled
from auditor.cache import ResultCache
from auditor.errors import AuditorError
from auditor.report.model import SourceFile
from auditor.solc.provider import SolcProvider
from auditor.solc.sources import compilation_unit, unit_constraints
from auditor.solc.versions import Constraint, Version
from auditor.targets import Target
from auditor.tools.base import Work


@dataclass
class Planned:
    work: Work
    key: str                      # cache key of the file stage (sources + compilers to try)
    deps: tuple[str, ...] = ()    # the dependency entries of `files` this file's plan created
    note: str | None = None       # why the project's configured compiler was not used, if it was not


def plan(target: Target, files: dict[str, SourceFile], max_bytes: int, install: bool = True,
         codegen: bool = True) -> list[Planned]:
    provider = SolcProvider(install=install)
    allow = tuple(target.sandbox.as_args()) if target.sandbox else ()
    remaps = tuple(str(r) for r in target.remappings)
    include = tuple(str(p) for p in target.include_roots)
    parsed: dict = {}      # each file is read and its imports resolved once per plan
    digests: dict[Path, bytes] = {}
    refused_links(target, files)
    units = []
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
            unit = compilation_unit([src], target.remappings, target.include_roots, target.sandbox, parsed)
            refused = [why for sf in unit.values() for why in sf.refused.values()]
            if refused:
                entry.status, entry.error = "error", "; ".join(dict.fromkeys(refused))
                continue
            constraints = [(target.relpath(p), c) for p, c in unit_constraints(unit)]
        except AuditorError as exc:
            entry.status, entry.error = "error", str(exc)
            continue
        units.append((src, rel, entry, unit, constraints))
    common = {} if target.compilers is not None else common_versions(provider, [u[4] for u in units])
    planned = []
    for i, (src, rel, entry, unit, constraints) in enumerate(units):
        try:
            # The compilers to try in order: the project's (or the version most of it compiles
            # with), the newest allowed, older fallbacks.
            choice = compiled.candidates_for(provider, target, src, constraints, prefer=common.get(i))
        except AuditorError as exc:
            entry.status, entry.error = "error", str(exc)
            continue
        entry.solc = choice.first.version
        members = sorted(unit)
        deps = []
        for dep in members:
            drel = target.relpath(dep)
            if drel not in files and target.is_dependency(dep):
                files[drel] = SourceFile(path=drel, sha256=_digest(dep, digests).hex(),
                                         dependency=True, solc=choice.first.version)
                deps.append(drel)
        names = tuple(target.relpath(p) for p in members)
        content = hashlib.sha256()
        for p, n in zip(members, names, strict=True):
            content.update(n.encode() + b"\0" + _digest(p, digests))
        work = Work(root=str(target.root), file=rel, unit=names, remappings=remaps, include=include, allow=allow,
                    codegen=codegen, **compiled.work_fields(choice))
        # Without code generation the verdict differs (no "Stack too deep"): part of the key.
        key = ResultCache.key("file-stage", rel, content.hexdigest(), choice.key(), remaps, "" if codegen else "ast")
        planned.append(Planned(work, key, tuple(deps), choice.note))
    return planned


def common_versions(provider: SolcProvider, constraints: list[list[tuple[str, Constraint]]]) -> dict[int, Version]:
    """For a project that configures no compiler: the installed version each unit (by index)
    should try first, so that as few versions as the pragmas allow cover the project (a build
    group per version, auditor/build.py), as the project's own build compiles its interfaces with
    the version of its contracts. Greedy: the version most of the remaining units allow (newest on
    a tie), until every unit has one; a unit no installed version allows is left to `choose`."""
    versions = sorted({b.version for b in provider.installed()}, reverse=True)
    allowed = {i: {v for v in versions if all(c.allows(v) for _, c in cs)} for i, cs in enumerate(constraints)}
    out: dict[int, Version] = {}
    left = {i for i, a in allowed.items() if a}
    while left:
        best = max(versions, key=lambda v: (sum(v in allowed[i] for i in left), v))
        chosen = {i for i in left if best in allowed[i]}
        out.update((i, best) for i in chosen)
        left -= chosen
    return out


def _digest(path: Path, digests: dict[Path, bytes]) -> bytes:
    if path not in digests:
        digests[path] = hashlib.sha256(path.read_bytes()).digest()
    return digests[path]


def refused_links(target: Target, files: dict[str, SourceFile]) -> None:
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
