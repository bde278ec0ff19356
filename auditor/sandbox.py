"""The sandbox for sources: which files an audit may read, decided in one place.

An audit reads only files inside its roots: the target's root (for a file or folder inside a
framework project on the CLI, that project's root), plus directories a CLI user names with
`--allow-path`. Servers (the API, the oracle) audit submissions with the target's root alone.

Every import is checked *before* anything is read or compiled, and the check is lexical first,
so a refused import reveals nothing about the host (not even whether the file exists):

* an absolute import path (`import "/etc/passwd";`) is refused;
* a relative import whose path leaves the roots (`../../etc/hostname`) is refused;
* an import that a remapping (remappings.txt, foundry.toml, ...) sends outside the roots is refused;
* a path inside the roots that is a symbolic link (or passes through one) to outside is refused.

The compiler gets the same roots (solc-js through `wrapper.js`, native solc through
`--allow-paths`), so nothing reaches it by another route.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import AuditorError


class SandboxError(AuditorError):
    """An import reaches outside the files the audit may read."""


def _real(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def _lexical(path: Path | str) -> Path:
    return Path(os.path.normpath(os.path.abspath(path)))


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


@dataclass(frozen=True)
class Sandbox:
    """`roots`: absolute, real directories whose files an audit may read."""

    roots: tuple[Path, ...]
    hosted: bool = False      # a server's audit: no way to allow more, so the message offers none

    @classmethod
    def of(cls, roots: Iterable[Path | str], hosted: bool = False) -> Sandbox:
        out: list[Path] = []
        for r in roots:
            real = _real(r)
            if real not in out:
                out.append(real)
        return cls(tuple(out), hosted)

    @property
    def rule(self) -> str:
        if self.hosted:
            return "only the submitted files may be read"
        return "only files inside the audited project may be read; --allow-path DIR allows a directory"

    def allows(self, path: Path | str) -> bool:
        """Whether `path` lies inside the roots, both as written and with symbolic links followed."""
        return self.allows_lexically(path) and _inside(_real(path), self.roots)

    def allows_lexically(self, path: Path | str) -> bool:
        """Whether `path` as written (`..` folded, links not followed) lies inside the roots."""
        return _inside(_lexical(path), self.roots)

    def refusal(self, importer: Path, spec: str, mapped: str, remapping: str | None) -> str | None:
        """Why `import "spec"` of `importer` (after remapping: `mapped`) may not be read, or None.

        Decided from the path text and the links inside the roots, never from whether an outside
        file exists."""
        rule = self.rule
        if spec.startswith("/") or Path(spec).is_absolute():
            where = "the submitted files" if self.hosted else "the project (use a relative path or a remapping)"
            return f"import {spec!r} refused: absolute import paths are not allowed (imports name files inside {where})"
        if spec.startswith(("./", "../")):
            candidate = _lexical(importer.parent / spec)
        elif Path(mapped).is_absolute():
            candidate = _lexical(mapped)
        else:
            candidate = None     # searched under the roots: checked per root by `allows_under`
        if candidate is not None and not _inside(candidate, self.roots):
            how = f"the remapping {remapping!r} leads" if remapping else "the path leads"
            return f"import {spec!r} refused: {how} outside the project ({rule})"
        if candidate is not None and not _inside(_real(candidate), self.roots):
            return f"import {spec!r} refused: a symbolic link leads outside the project ({rule})"
        if candidate is None and ".." in Path(mapped).parts:
            for root in self.roots:
                if not _inside(_lexical(root / mapped), self.roots):
                    how = f"the remapping {remapping!r} leads" if remapping else "the path leads"
                    return f"import {spec!r} refused: {how} outside the project ({rule})"
        return None

    def link_refusal(self, spec: str, candidate: Path) -> str | None:
        """For an import found at `candidate` (inside the roots as written): refused when a
        symbolic link takes it outside."""
        if _inside(_real(candidate), self.roots):
            return None
        return f"import {spec!r} refused: a symbolic link leads outside the project ({self.rule})"

    def as_args(self) -> list[str]:
        return [str(r) for r in self.roots]


def for_roots(root: Path, project_root: Path | None, allow_paths: Sequence[Path | str] = (),
              hosted: bool = False) -> Sandbox:
    """The sandbox of a target: its root, its enclosing project's root, and the allowed paths."""
    return Sandbox.of([root, *([project_root] if project_root else []), *allow_paths], hosted)
