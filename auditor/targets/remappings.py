"""Remapping discovery: a project's declared remappings, Foundry's automatic lib ones, and the
package remappings (`@scope/pkg/=node_modules/@scope/pkg/`) that let solc find every import
under a further include root (see the package docstring, `remappings`)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from auditor.errors import AuditorError, TargetError
from auditor.sandbox import Sandbox
from auditor.solc.sources import Remapping, apply_remappings, imports, resolve_checked, resolve_import
from auditor.targets.walk import rel

FOUNDRY_CONFIG = "foundry.toml"
_MAX_LIB_DEPTH = 3  # nested Foundry libs (lib/a/lib/b/...) that get automatic remappings


# ---- declared by the project and its libs ----------------------------------------------------------------
def lib_remappings(root: Path, libs: Sequence[Path]) -> list[Remapping]:
    """Foundry's automatic remappings: `<name>/=lib/<name>/src/` (or `lib/<name>/`) for every lib,
    then what each lib declares itself (its remappings.txt / foundry.toml, re-rooted), then nested libs."""
    auto: list[Remapping] = []
    declared: list[Remapping] = []
    level = [lib for lib in libs if lib.is_dir()]
    seen: set[Path] = set()
    for _ in range(_MAX_LIB_DEPTH):
        nested: list[Path] = []
        for lib_dir in level:
            for pkg in _subdirs(lib_dir):
                real = pkg.resolve()
                if real in seen:
                    continue
                seen.add(real)
                target = pkg / "src" if (pkg / "src").is_dir() else pkg
                auto.append(Remapping(f"{pkg.name}/", remap_target(target, root)))
                declared += [
                    Remapping(r.prefix, remap_target(join(pkg, r.target), root, r.target.endswith("/")))
                    for r in _own_remappings(pkg)
                ]
                if (pkg / "lib").is_dir():
                    nested.append(pkg / "lib")
        level = nested
    return merge(auto, declared)


def _own_remappings(pkg: Path) -> list[Remapping]:
    """Remappings a vendored Foundry package declares for itself (malformed ones are ignored)."""
    found = []
    try:
        data = tomllib.loads((pkg / FOUNDRY_CONFIG).read_text(encoding="utf-8", errors="replace"))
        texts = data.get("profile", {}).get("default", {}).get("remappings", [])
        found += [t for t in texts if isinstance(t, str)] if isinstance(texts, list) else []
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        pass
    found += _remapping_lines(pkg / "remappings.txt")
    out = []
    for text in found:
        try:
            r = Remapping.parse(text)
        except AuditorError:
            continue
        if not Path(r.target).is_absolute() and not r.target.startswith(".."):
            out.append(r)
    return out


def remappings_txt(root: Path) -> list[Remapping]:
    path = root / "remappings.txt"
    return [parse_remapping(line, path) for line in _remapping_lines(path)]


def _remapping_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


def parse_remapping(text: str, origin: Path) -> Remapping:
    try:
        r = Remapping.parse(text)
    except AuditorError as exc:
        raise TargetError(f"{origin}: {exc}") from None
    target = r.target[2:] if r.target.startswith("./") else r.target
    return Remapping(r.prefix, target)


def merge(*groups: Iterable[Remapping]) -> list[Remapping]:
    """One remapping per prefix, the first one met winning (solc would take the last of equals)."""
    out: dict[str, Remapping] = {}
    for group in groups:
        for r in group:
            out.setdefault(r.prefix, r)
    return list(out.values())


# ---- imports -----------------------------------------------------------------------------------------
def node_modules_dirs(root: Path) -> list[Path]:
    """node_modules of the root and of its ancestors (Node's lookup, for hoisted monorepo workspaces),
    not looking past a git repository's top."""
    out = []
    for d in [root, *root.parents]:
        if (d / "node_modules").is_dir():
            out.append(d / "node_modules")
        if (d / ".git").exists():
            break
    return out


def complete_remappings(
    root: Path, sources: Sequence[Path], remappings: Sequence[Remapping], extra_roots: Sequence[Path],
    sandbox: Sandbox | None = None,
) -> list[Remapping]:
    """`remappings` plus a package remapping for every import that is found only under `extra_roots`,
    following imports transitively from the own sources."""
    remaps = list(remappings)
    prefixes = {r.prefix for r in remaps}

    def resolve(path: Path, spec: str) -> Path | None:
        found = resolve_import(path, spec, remaps, [root], sandbox)
        if found is None and not spec.startswith(("./", "../")):
            new = _package_remapping(spec, remaps, root, extra_roots)
            if new is not None and new.prefix not in prefixes:
                remaps.append(new)
                prefixes.add(new.prefix)
                found = resolve_import(path, spec, remaps, [root], sandbox)
        return found

    for _ in _reachable_imports(sources, resolve):
        pass
    return remaps


def _package_remapping(
    spec: str, remaps: Sequence[Remapping], root: Path, extra_roots: Sequence[Path]
) -> Remapping | None:
    """`pkg/=<dir>/pkg/` (`@scope/pkg/` for npm scopes) for an import found under one of `extra_roots`."""
    if apply_remappings(spec, remaps) != spec:  # an explicit remapping applies: it is the project's to get right
        return None
    parts = spec.split("/")
    n = 2 if spec.startswith("@") else 1
    if len(parts) <= n or any(p in ("", ".", "..") for p in parts[:n]):
        return None
    for extra in extra_roots:
        if (extra / spec).is_file():
            package = extra.joinpath(*parts[:n])
            return Remapping("/".join(parts[:n]) + "/", remap_target(package, root))
    return None


def unresolved(root: Path, sources: Sequence[Path], remappings: Sequence[Remapping],
               sandbox: Sandbox | None = None) -> list[tuple[Path, str]]:
    """(importing file, import) for every import reachable from `sources` that `remappings` leave unfound
    (imports the sandbox refuses are reported per file by the audit, not here)."""

    refused: set[tuple[Path, str]] = set()

    def resolve(path: Path, spec: str) -> Path | None:
        found, why = resolve_checked(path, spec, remappings, [root], sandbox)
        if why:
            refused.add((path, spec))
        return found

    return [(path, spec) for path, spec, found in _reachable_imports(sources, resolve)
            if found is None and (path, spec) not in refused]


def _reachable_imports(
    sources: Sequence[Path], resolve: Callable[[Path, str], Path | None]
) -> Iterator[tuple[Path, str, Path | None]]:
    """(file, import, `resolve(file, import)`) for every import of `sources` and, transitively, of the files
    they resolve to; each file is read once (an unreadable one is passed over). `resolve` runs as each
    import is reached, so it may extend what later imports resolve with (complete_remappings does)."""
    seen: set[Path] = set()
    todo = list(sources)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for spec in imports(text):
            found = resolve(path, spec)
            yield path, spec, found
            if found is not None and found not in seen:
                todo.append(found)


# ---- small helpers -------------------------------------------------------------------------------------
def remap_target(directory: Path, root: Path, slash: bool = True) -> str:
    """A remapping target naming `directory`: relative to root inside it, absolute outside."""
    d = Path(os.path.normpath(directory))
    text = rel(d, root) if d.is_relative_to(root) else d.as_posix()
    return text + "/" if slash and text and not text.endswith("/") else text


def join(base: Path, target: str) -> Path:
    return Path(os.path.normpath(base / target))


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
