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
from auditor.targets import Target
from auditor.tools.base import Work


@dataclass
class Planned:
    work: Work
    key: str                      # cache key of the file stage (sources + compilers to try)
    deps: tuple[str, ...] = ()    # the dependency entries of `files` this file's plan created
    note: str | None = None       # why the project's configured compiler was not used, if it was not


def plan(target: Target, files: dict[str, SourceFile], max_bytes: int, install: bool = True) -> list[Planned]:
    provider = SolcProvider(install=install)
    allow = tuple(target.sandbox.as_args()) if target.sandbox else ()
    remaps = tuple(str(r) for r in target.remappings)
    include = tuple(str(p) for p in target.include_roots)
    planned = []
    refused_links(target, files)
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
        key = ResultCache.key("file-stage", rel, content.hexdigest(), choice.key(), remaps)
        planned.append(Planned(work, key, tuple(deps), choice.note))
    return planned


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
