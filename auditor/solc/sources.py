"""Reading what the compiler needs to know from Solidity sources: pragmas and imports.

Comments and string literals are blanked before matching, so a commented-out
`pragma solidity` or an import path inside a string does not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auditor.errors import PragmaError
from auditor.solc.versions import Constraint

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
    return [" ".join(m.group(1).split()) for m in _PRAGMA_RE.finditer(strip_comments(source))]


def imports(source: str) -> list[str]:
    """Import paths of a source, in order (every `import` form names its path first)."""
    return [m.group(1) for m in _IMPORT_RE.finditer(strip_comments(source))]


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


def apply_remappings(path: str, remappings: Sequence[Remapping]) -> str:
    """The longest matching prefix wins, as in solc."""
    best = None
    for r in remappings:
        if path.startswith(r.prefix) and (best is None or len(r.prefix) > len(best.prefix)):
            best = r
    return best.target + path[len(best.prefix) :] if best else path


def resolve_import(
    importer: Path, spec: str, remappings: Sequence[Remapping], roots: Sequence[Path]
) -> Path | None:
    """Where on disk an import of `importer` lives, or None if it cannot be found."""
    if spec.startswith(("./", "../")):
        candidate = (importer.parent / spec).resolve()
        return candidate if candidate.is_file() else None
    mapped = apply_remappings(spec, remappings)
    candidates = [Path(mapped)] if Path(mapped).is_absolute() else [r / mapped for r in roots]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    return None


@dataclass
class SourceFile:
    path: Path
    pragmas: list[str]
    imports: dict[str, Path | None] = field(default_factory=dict)


def compilation_unit(
    entries: Iterable[Path], remappings: Sequence[Remapping] = (), roots: Sequence[Path] = ()
) -> dict[Path, SourceFile]:
    """Every file reachable from `entries` through imports, with its pragmas."""
    unit: dict[Path, SourceFile] = {}
    todo = [Path(e).resolve() for e in entries]
    while todo:
        path = todo.pop()
        if path in unit:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        sf = SourceFile(path, pragmas(text))
        search = list(roots) or [path.parent]
        for spec in imports(text):
            target = resolve_import(path, spec, remappings, search)
            sf.imports[spec] = target
            if target is not None:
                todo.append(target)
        unit[path] = sf
    return unit


def unit_constraints(unit: dict[Path, SourceFile]) -> list[tuple[Path, Constraint]]:
    return [(p, Constraint.parse(text)) for p, sf in unit.items() for text in sf.pragmas]
