"""Reading what the compiler needs to know from Solidity sources: pragmas and imports.

Comments and string literals are blanked before matching, so a commented-out
`pragma solidity` or an import path inside a string does not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.errors import PragmaError
from auditor.solc.versions import Constraint

if TYPE_CHECKING:
    from auditor.sandbox import Sandbox

_PRAGMA_RE = re.compile(r"\bpragma\s+solidity\s+([^;]+);")
_IMPORT_RE = re.compile(r"\bimport\b[^;]*?[\"']([^\"']+)[\"'][^;]*;")
_TOKEN_RE = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)


def strip_comments(source: str) -> str:
    """Blank out comments, keeping line numbers and string literals intact."""

    def blank(m: re.Match[str]) -> str:
        text = m.group(0)
        if text.startswith(("//", "/*")):
            return re.sub(r"[^\n]", " ", text)
        return text

    return _TOKEN_RE.sub(blank, source)


def pragmas(source: str) -> list[str]:
    """The `pragma solidity` constraints of a source, as written."""
    return list(_scan(source)[0])


def imports(source: str) -> list[str]:
    """Import paths of a source, in order (every `import` form names its path first)."""
    return list(_scan(source)[1])


@lru_cache(maxsize=4096)
def _scan(source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(pragmas, imports), once per text: loading a project and planning it read each file's
    imports several times (remappings, unresolved imports, each unit the file is part of)."""
    code = strip_comments(source)
    return (tuple(" ".join(m.group(1).split()) for m in _PRAGMA_RE.finditer(code)),
            tuple(m.group(1) for m in _IMPORT_RE.finditer(code)))


@dataclass(frozen=True)
class Remapping:
    """`context:prefix=target` as solc understands it (context is ignored here)."""

    prefix: str
    target: str

    @classmethod
    def parse(cls, text: str) -> Remapping:
        left, sep, target = text.strip().partition("=")
        if not sep or not left:
            raise PragmaError(f"malformed remapping {text!r} (expected prefix=target)")
        prefix = left.split(":", 1)[-1]
        return cls(prefix, target)

    def __str__(self) -> str:
        return f"{self.prefix}={self.target}"


def best_remapping(path: str, remappings: Sequence[Remapping]) -> Remapping | None:
    """The remapping solc applies to `path`: the longest matching prefix wins."""
    best = None
    for r in remappings:
        if path.startswith(r.prefix) and (best is None or len(r.prefix) > len(best.prefix)):
            best = r
    return best


def apply_remappings(path: str, remappings: Sequence[Remapping]) -> str:
    best = best_remapping(path, remappings)
    return best.target + path[len(best.prefix) :] if best else path


def resolve_import(
    importer: Path, spec: str, remappings: Sequence[Remapping], roots: Sequence[Path],
    sandbox: Sandbox | None = None,
) -> Path | None:
    """Where on disk an import of `importer` lives, or None if it cannot be found (or is refused)."""
    return resolve_checked(importer, spec, remappings, roots, sandbox)[0]


def resolve_checked(
    importer: Path, spec: str, remappings: Sequence[Remapping], roots: Sequence[Path],
    sandbox: Sandbox | None = None,
) -> tuple[Path | None, str | None]:
    """(where the import lives or None, why the sandbox refuses it or None).

    With a sandbox the import is checked before anything is looked up on disk."""
    relative = spec.startswith(("./", "../"))
    remapping = None if relative else best_remapping(spec, remappings)
    mapped = remapping.target + spec[len(remapping.prefix):] if remapping else spec
    if sandbox is not None:
        why = sandbox.refusal(importer, spec, mapped, str(remapping) if remapping else None)
        if why:
            return None, why
    if relative:
        candidates = [importer.parent / spec]
    else:
        candidates = [Path(mapped)] if Path(mapped).is_absolute() else [r / mapped for r in roots]
    for c in candidates:
        if sandbox is not None and not sandbox.allows_lexically(c):
            continue         # a search root outside the sandbox is not looked in
        if c.is_file():
            if sandbox is not None and (why := sandbox.link_refusal(spec, c)):
                return None, why
            return c.resolve(), None
    return None, None


@dataclass
class SourceFile:
    path: Path
    pragmas: list[str]
    imports: dict[str, Path | None] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)   # import -> why the sandbox refused it


def compilation_unit(
    entries: Iterable[Path], remappings: Sequence[Remapping] = (), roots: Sequence[Path] = (),
    sandbox: Sandbox | None = None, memo: dict[Path, SourceFile] | None = None,
) -> dict[Path, SourceFile]:
    """Every file reachable from `entries` through imports, with its pragmas. With a sandbox,
    imports it refuses are recorded in `SourceFile.refused` and never read. `memo`: files already
    parsed with the same remappings, roots and sandbox (a plan parses each file of a project once)."""
    unit: dict[Path, SourceFile] = {}
    todo = [Path(e).resolve() for e in entries]
    while todo:
        path = todo.pop()
        if path in unit:
            continue
        if memo is not None and path in memo:
            unit[path] = memo[path]
            todo.extend(t for t in memo[path].imports.values() if t is not None)
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        sf = SourceFile(path, pragmas(text))
        search = list(roots) or [path.parent]
        for spec in imports(text):
            target, why = resolve_checked(path, spec, remappings, search, sandbox)
            sf.imports[spec] = target
            if why:
                sf.refused[spec] = why
            if target is not None:
                todo.append(target)
        unit[path] = sf
        if memo is not None:
            memo[path] = sf
    return unit


def unit_constraints(unit: dict[Path, SourceFile]) -> list[tuple[Path, Constraint]]:
    return [(p, Constraint.parse(text)) for p, sf in unit.items() for text in sf.pragmas]
