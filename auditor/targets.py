"""Turning a user-given path into what to compile and analyze.

A target is one `.sol` file, a plain directory, or a Hardhat, Foundry or Truffle project.
Project configuration is *read*, never run: `foundry.toml` is parsed with tomllib, and
Hardhat/Truffle JavaScript configs are only searched for a literal path (`sources: "..."`).
No project tooling (npx, forge, truffle, package scripts) is ever executed.

What the rest of the pipeline needs:

* `sources`: the target's own `.sol` files (absolute, real paths, sorted). Findings are
  reported for these; everything else reachable through imports is a dependency.
* `remappings`: enough for solc to find every import it can find at all. Besides the
  project's own remappings (foundry.toml, remappings.txt, Foundry's automatic lib ones),
  every import that is only found under a further include root (node_modules, lib dirs)
  gets a package remapping such as `@acme/access/=node_modules/@acme/access/`. So
  `compile_files(files, target.root, target.remappings)` and
  `compilation_unit(files, target.remappings, [target.root])` need nothing else.
  Targets are relative to `root` when the directory lies inside it (source unit names stay
  relative), absolute otherwise (a dependency outside the root, e.g. a hoisted monorepo
  `node_modules`: native solc then needs that directory in `--allow-paths`).
* `include_roots`: where non-relative imports are searched (root first); informational
  once the remappings above are derived from it.

Files and symbolic links (documented decisions):

* Directories are walked with `os.walk(followlinks=False)`: a symlinked directory is never
  entered, so a link to a parent directory cannot loop, and a link out of the tree cannot
  pull foreign files in. A directory reached through a link inside the root is still walked
  under its real path.
* A symlinked `.sol` file is kept, once, under its real path when that path is inside the
  root (and not inside node_modules, a dependency lib, ...). A link to a file outside the
  root, a broken link and a link loop are skipped, with the reason in `Target.skipped`:
  audited archives must not make the auditor read (and quote) files from elsewhere.
* A `.sol` file holding NUL bytes (binary, or UTF-16 text, which solc cannot read) or one that
  cannot be read is skipped with its reason; as the single file of a target it is an error.
  Text that is not valid UTF-8 is kept (solc only rejects it inside string literals, and the
  compiler wrapper reads it with replacement characters), with a warning in `Target.warnings`.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from auditor.errors import AuditorError, TargetError
from auditor.solc.sources import Remapping, apply_remappings, imports, resolve_import, strip_comments

log = logging.getLogger(__name__)

Kind = Literal["file", "directory", "hardhat", "foundry", "truffle"]

HARDHAT_CONFIGS = ("hardhat.config.js", "hardhat.config.ts", "hardhat.config.cjs", "hardhat.config.mjs")
TRUFFLE_CONFIGS = ("truffle-config.js", "truffle.js")
FOUNDRY_CONFIG = "foundry.toml"
# Never own sources, wherever they appear: dependencies and build output (hidden dirs too).
SKIPPED_DIRS = frozenset({"node_modules", "cache", "artifacts", "out", "build", "__pycache__"})
# Test helpers inside a framework's sources directory (e.g. contracts/test/Mock.sol).
TEST_DIRS = frozenset({"test", "tests"})
TEST_SUFFIXES = (".t.sol", ".s.sol")  # Foundry tests and scripts
# What marks a directory under lib/ as a vendored package (a git submodule, a Foundry/npm project).
_PACKAGE_MARKERS = (
    ".git",
    "foundry.toml",
    "package.json",
    "remappings.txt",
    "LICENSE",
    "LICENSE.md",
    "README.md",
    "src",
    "contracts",
)
_MAX_LIB_DEPTH = 3  # nested Foundry libs (lib/a/lib/b/...) that get automatic remappings


@dataclass
class Target:
    path: Path  # as given by the user
    root: Path  # absolute project root; every reported file path is relative to it ('/'-separated)
    kind: Kind
    sources: list[Path]  # absolute real paths of the target's OWN .sol files to analyze, sorted
    remappings: list[Remapping] = field(default_factory=list)
    include_roots: list[Path] = field(default_factory=list)  # root first, then node_modules, lib dirs...
    config: Path | None = None  # the framework config that was read (a file target: its enclosing project's)
    project_root: Path | None = None  # enclosing framework project of a file/directory target, if any
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # .sol files left out, and why
    warnings: list[str] = field(default_factory=list)

    def absolute(self, path: str | Path) -> Path:
        """`path` made absolute (a relative one, e.g. a solc source unit name, is taken from the root)."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        try:
            return p.resolve()
        except (OSError, RuntimeError):  # a symlink loop: keep the lexical path
            return Path(os.path.abspath(p))

    def relpath(self, path: str | Path) -> str:
        """`path` relative to the root, '/'-separated (`../x` for a file outside the root)."""
        return Path(os.path.relpath(self.absolute(path), self.root)).as_posix()

    def is_source(self, path: str | Path) -> bool:
        """Whether `path` is one of the target's own sources."""
        return self.absolute(path) in set(self.sources)

    def is_dependency(self, path: str | Path) -> bool:
        """Anything that is not an own source: node_modules, lib/ packages, excluded tests..."""
        return not self.is_source(path)


def load_target(path: str | Path, include_tests: bool = False) -> Target:
    """What to audit at `path`; raises TargetError with a message fit for the user."""
    if str(path).strip() == "":
        raise TargetError("no path given")
    given = Path(path).expanduser()
    try:
        mode = given.stat().st_mode
        real = given.resolve(strict=True)
    except FileNotFoundError:
        if given.is_symlink():
            raise TargetError(f"{given} is a broken symbolic link") from None
        raise TargetError(f"{given} does not exist") from None
    except (OSError, RuntimeError) as exc:
        raise TargetError(f"cannot access {given}: {_reason(exc)}") from None
    if stat.S_ISDIR(mode):
        return _load_directory(given, real, include_tests)
    if not stat.S_ISREG(mode):
        raise TargetError(f"{given} is neither a regular file nor a directory")
    return _load_file(given, real)


# ---- the three shapes of target ------------------------------------------------------------------
def _load_file(given: Path, real: Path) -> Target:
    if real.suffix != ".sol" and given.suffix != ".sol":
        raise TargetError(f"{given} is not a Solidity (.sol) file")
    problem, warning = _content_problem(real)
    if problem:
        raise TargetError(f"cannot audit {given}: {problem}")
    root = real.parent
    target = Target(given, root, "file", [real])
    if warning:
        target.warnings.append(f"{given}: {warning}")
    _borrow_project(target, _enclosing_project(root))
    return _finish(target)


def _load_directory(given: Path, root: Path, include_tests: bool) -> Target:
    project = _detect_project(root)
    if project is None:
        target = Target(given, root, "directory", [])
        walk = _Walk(root, skip_tests=not include_tests, skip_test_dirs=False)
        target.sources = walk.run([root])
        _borrow_project(target, _enclosing_project(root.parent))
    else:
        target = Target(
            given,
            root,
            project.kind,
            [],
            list(project.remappings),
            list(project.include_roots),
            config=project.config,
            warnings=list(project.warnings),
        )
        walk = _Walk(
            root,
            skip_tests=not include_tests,
            skip_test_dirs=not include_tests,
            excluded=project.excluded_dirs,
            excluded_names=project.excluded_names,
            test_dirs=project.test_dirs,
        )
        tops = list(project.source_dirs)
        if include_tests:
            tops += [d for d in project.test_dirs if d.is_dir()]
        target.sources = walk.run(tops)
        if not target.sources and not include_tests:  # say so when only tests were there
            walk.tests_excluded += sum(
                1
                for d in project.test_dirs
                if not any(d.is_relative_to(top) for top in tops)
                for _ in _sol_files_quick(d)
            )
    target.skipped = walk.skipped
    target.warnings += walk.warnings
    if not target.sources:
        raise TargetError(_nothing_found(given, target.kind, walk))
    return _finish(target)


def _nothing_found(given: Path, kind: str, walk: _Walk) -> str:
    msg = f"no Solidity files under {given}"
    if kind != "directory":
        msg += f" ({kind} project; looked in {', '.join(walk.tops) or 'the project root'})"
    notes = []
    if walk.tests_excluded:
        notes.append(f"{walk.tests_excluded} test/script file(s) excluded: include tests to audit them")
    if walk.skipped:
        first_path, first_reason = walk.skipped[0]
        notes.append(f"{len(walk.skipped)} skipped, e.g. {first_path.name}: {first_reason}")
    return msg + (f" [{'; '.join(notes)}]" if notes else "")


def _finish(target: Target) -> Target:
    target.include_roots = _dedupe([target.root, *target.include_roots, *_node_modules_dirs(target.root)])
    target.remappings = _complete_remappings(target.root, target.sources, target.remappings, target.include_roots[1:])
    for spec_file, spec in _unresolved(target):
        target.warnings.append(f"{target.relpath(spec_file)}: import {spec!r} not found")
    return target


# ---- frameworks -------------------------------------------------------------------------------------
@dataclass
class _Project:
    root: Path
    kind: Kind
    config: Path
    source_dirs: list[Path]
    test_dirs: list[Path] = field(default_factory=list)
    excluded_dirs: set[Path] = field(default_factory=set)
    excluded_names: frozenset[str] = frozenset()
    remappings: list[Remapping] = field(default_factory=list)  # targets relative to root
    include_roots: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _detect_project(d: Path) -> _Project | None:
    """The framework project whose config lies in `d`, if any.

    A Foundry config wins over Hardhat's (hybrid projects), unless its sources directory is
    missing while a Hardhat config is there.
    """
    hardhat = next((d / n for n in HARDHAT_CONFIGS if (d / n).is_file()), None)
    truffle = next((d / n for n in TRUFFLE_CONFIGS if (d / n).is_file()), None)
    project = None
    if (d / FOUNDRY_CONFIG).is_file():
        project = _foundry(d, d / FOUNDRY_CONFIG)
        if hardhat is not None and not any(s.is_dir() for s in project.source_dirs):
            project = None
    if project is None and hardhat is not None:
        project = _hardhat(d, hardhat)
    if project is None and truffle is not None:
        project = _truffle(d, truffle)
    if project is not None:
        _fallback_to_root(project)
    return project


def _enclosing_project(start: Path) -> _Project | None:
    """The nearest framework project at or above `start`, not looking past a git repository's top."""
    for d in [start, *start.parents]:
        try:
            project = _detect_project(d)
        except TargetError as exc:  # a broken config of an enclosing project: do without it
            log.debug("ignoring enclosing project at %s: %s", d, exc)
            project = None
        if project is not None:
            return project
        if (d / ".git").exists():
            return None
    return None


def _borrow_project(target: Target, project: _Project | None) -> None:
    """A file or plain directory inside a framework project uses the project's import setup."""
    if project is None:
        return
    target.project_root = project.root
    target.config = project.config
    target.include_roots = [project.root, *project.include_roots]
    target.remappings = [
        Remapping(r.prefix, _remap_target(_join(project.root, r.target), target.root, r.target.endswith("/")))
        for r in project.remappings
    ]


def _hardhat(root: Path, config: Path) -> _Project:
    text = _read_config(config)
    warnings: list[str] = []
    sources = _config_dir(root, config, _js_literal(text, "sources"), "contracts", warnings)
    tests = _config_dir(root, config, _js_literal(text, "tests"), "test", warnings)
    project = _Project(root, "hardhat", config, [sources], [tests], warnings=warnings)
    project.remappings = _remappings_txt(root)
    return project


def _truffle(root: Path, config: Path) -> _Project:
    text = _read_config(config)
    warnings: list[str] = []
    sources = _config_dir(root, config, _js_literal(text, "contracts_directory"), "contracts", warnings)
    tests = _config_dir(root, config, _js_literal(text, "test_directory"), "test", warnings)
    project = _Project(
        root, "truffle", config, [sources], [tests], warnings=warnings, excluded_names=frozenset({"Migrations.sol"})
    )
    project.remappings = _remappings_txt(root)
    return project


def _foundry(root: Path, config: Path) -> _Project:
    try:
        data = tomllib.loads(_read_config(config))
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{config}: not valid TOML ({exc})") from None
    profile = data.get("profile", {}).get("default", {}) if isinstance(data.get("profile"), dict) else {}
    if not isinstance(profile, dict):
        raise TargetError(f"{config}: [profile.default] must be a table")

    def setting(key: str, default, kind: type):
        value = profile.get(key, default)
        ok = (
            isinstance(value, str)
            if kind is str
            else (isinstance(value, list) and all(isinstance(v, str) for v in value))
        )
        if not ok:
            raise TargetError(
                f"{config}: [profile.default] {key} must be a {'string' if kind is str else 'list of strings'}"
            )
        return value

    warnings: list[str] = []
    src = _config_dir(root, config, setting("src", profile.get("contracts", "src"), str), "src", warnings)
    test = _config_dir(root, config, setting("test", "test", str), "test", warnings)
    script = _config_dir(root, config, setting("script", "script", str), "script", warnings)
    libs = [_config_dir(root, config, lib, "lib", warnings) for lib in setting("libs", ["lib"], list)]
    explicit = [_parse_remapping(text, config) for text in setting("remappings", [], list)]
    project = _Project(
        root,
        "foundry",
        config,
        [src],
        [test, script],
        warnings=warnings,
        excluded_dirs={*libs, test, script},
        include_roots=[lib for lib in libs if lib.is_dir()],
    )
    project.remappings = _merge(explicit, _remappings_txt(root), _lib_remappings(root, libs))
    return project


def _fallback_to_root(project: _Project) -> None:
    """A missing sources directory (or an unreadable config value): audit the whole project."""
    missing = [d for d in project.source_dirs if not d.is_dir()]
    if missing and len(missing) == len(project.source_dirs):
        project.warnings.append(
            f"{project.config.name}: sources directory {_rel(missing[0], project.root)!r} does not exist; "
            "using every .sol file under the project root"
        )
        project.source_dirs = [project.root]


def _lib_remappings(root: Path, libs: Sequence[Path]) -> list[Remapping]:
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
                auto.append(Remapping(f"{pkg.name}/", _remap_target(target, root)))
                declared += [
                    Remapping(r.prefix, _remap_target(_join(pkg, r.target), root, r.target.endswith("/")))
                    for r in _own_remappings(pkg)
                ]
                if (pkg / "lib").is_dir():
                    nested.append(pkg / "lib")
        level = nested
    return _merge(auto, declared)


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


def _remappings_txt(root: Path) -> list[Remapping]:
    path = root / "remappings.txt"
    return [_parse_remapping(line, path) for line in _remapping_lines(path)]


def _remapping_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


def _parse_remapping(text: str, origin: Path) -> Remapping:
    try:
        r = Remapping.parse(text)
    except AuditorError as exc:
        raise TargetError(f"{origin}: {exc}") from None
    target = r.target[2:] if r.target.startswith("./") else r.target
    return Remapping(r.prefix, target)


def _merge(*groups: Iterable[Remapping]) -> list[Remapping]:
    """One remapping per prefix, the first one met winning (solc would take the last of equals)."""
    out: dict[str, Remapping] = {}
    for group in groups:
        for r in group:
            out.setdefault(r.prefix, r)
    return list(out.values())


def _read_config(config: Path) -> str:
    try:
        return config.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TargetError(f"cannot read {config}: {_reason(exc)}") from None


def _js_literal(text: str, key: str) -> str | None:
    """The first `key: "literal"` in a JS/TS config (comments ignored); None when absent or computed."""
    m = re.search(rf"(?<![\w$.]){re.escape(key)}[\"']?\s*:\s*([\"'`])([^\"'`\n$]+)\1", strip_comments(text))
    return m.group(2).strip() if m else None


def _config_dir(root: Path, config: Path, value: str | None, default: str, warnings: list[str]) -> Path:
    """A directory named by a config, which must stay inside the project root."""
    if value is None:
        value = default
    path = Path(os.path.normpath(root / value))
    if not path.is_relative_to(root):
        warnings.append(f"{config.name}: {value!r} lies outside the project; using {default!r}")
        path = root / default
    return path


# ---- walking ------------------------------------------------------------------------------------------
class _Walk:
    """Own .sol files under some directories of `root`, with exclusions and symlink safety."""

    def __init__(
        self,
        root: Path,
        *,
        skip_tests: bool,
        skip_test_dirs: bool,
        excluded: Iterable[Path] = (),
        excluded_names: frozenset[str] = frozenset(),
        test_dirs: Iterable[Path] = (),
    ) -> None:
        self.root = root
        self.skip_tests = skip_tests
        self.skip_test_dirs = skip_test_dirs
        self.excluded = {Path(os.path.normpath(p)) for p in excluded}
        self.excluded_names = excluded_names
        self.test_dirs = {Path(os.path.normpath(p)) for p in test_dirs}
        self.skipped: list[tuple[Path, str]] = []
        self.warnings: list[str] = []
        self.tests_excluded = 0
        self.tops: list[str] = []
        self._found: set[Path] = set()

    def run(self, tops: Sequence[Path]) -> list[Path]:
        for top in tops:
            self.tops.append((_rel(top, self.root) or ".") + "/")
            if top.is_dir():
                self._walk(top)
        return sorted(self._found)

    def _walk(self, top: Path) -> None:
        def onerror(exc: OSError) -> None:
            if Path(exc.filename or "") == top:
                raise TargetError(f"cannot read directory {top}: {_reason(exc)}")
            self.warnings.append(f"cannot read directory {_rel(Path(exc.filename or top), self.root)}: {_reason(exc)}")

        for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=False):
            d = Path(dirpath)
            dirnames[:] = sorted(n for n in dirnames if self._keep_dir(d, n))
            for name in sorted(filenames):
                if name.endswith(".sol"):
                    self._file(d / name)

    def _keep_dir(self, parent: Path, name: str) -> bool:
        path = parent / name
        if name.startswith(".") or name in SKIPPED_DIRS:
            return False
        if path in self.excluded:
            if path in self.test_dirs:
                self.tests_excluded += sum(1 for _ in _sol_files_quick(path))
            return False
        if self.skip_test_dirs and name in TEST_DIRS:
            self.tests_excluded += sum(1 for _ in _sol_files_quick(path))
            return False
        return not (name == "lib" and _looks_like_dependency_dir(path))

    def _file(self, path: Path) -> None:
        name = path.name
        if name in self.excluded_names:
            return
        if self.skip_tests and name.endswith(TEST_SUFFIXES):
            self.tests_excluded += 1
            return
        real = path
        if path.is_symlink():
            try:
                real = path.resolve(strict=True)
            except FileNotFoundError:
                return self._skip(path, "broken symbolic link")
            except (OSError, RuntimeError):
                return self._skip(path, "symbolic link loop")
            if not real.is_relative_to(self.root):
                return self._skip(path, "symbolic link to a file outside the project root")
            if self._excluded_location(real):
                return self._skip(path, "symbolic link into an excluded directory (dependency or build output)")
        if real in self._found:
            return
        try:
            if not stat.S_ISREG(real.stat().st_mode):
                return self._skip(path, "not a regular file")
        except OSError as exc:
            return self._skip(path, _reason(exc))
        problem, warning = _content_problem(real)
        if problem:
            return self._skip(path, problem)
        if warning:
            self.warnings.append(f"{_rel(path, self.root)}: {warning}")
        self._found.add(real)

    def _excluded_location(self, real: Path) -> bool:
        rel = real.relative_to(self.root)
        dirs = rel.parts[:-1]
        if any(p.startswith(".") or p in SKIPPED_DIRS for p in dirs):
            return True
        if any(real.is_relative_to(e) for e in self.excluded):
            return True
        return any(
            p == "lib" and _looks_like_dependency_dir(self.root.joinpath(*dirs[: i + 1])) for i, p in enumerate(dirs)
        )

    def _skip(self, path: Path, reason: str) -> None:
        log.info("skipping %s: %s", path, reason)
        self.skipped.append((path, reason))


def _sol_files_quick(d: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(d, followlinks=False):
        dirnames[:] = [n for n in dirnames if not n.startswith(".") and n not in SKIPPED_DIRS]
        yield from (Path(dirpath) / f for f in filenames if f.endswith(".sol"))


def _looks_like_dependency_dir(lib: Path) -> bool:
    """`lib/` holding vendored packages (lib/<pkg>/ with a marker), not the project's own library code."""
    try:
        entries = list(os.scandir(lib))
    except OSError:
        return False
    if any(e.name.endswith(".sol") for e in entries):
        return False
    return any(e.is_dir() and any((lib / e.name / m).exists() for m in _PACKAGE_MARKERS) for e in entries)


def _content_problem(path: Path) -> tuple[str | None, str | None]:
    """(reason to skip, warning) for a source file's bytes."""
    try:
        data = path.read_bytes()
    except PermissionError:
        return "not readable (permission denied)", None
    except OSError as exc:
        return f"not readable ({_reason(exc)})", None
    if b"\x00" in data:
        return "binary content (NUL bytes; UTF-16 text is not supported, save it as UTF-8)", None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 (byte {exc.start}); invalid bytes are read as U+FFFD"
    return None, None


# ---- imports -----------------------------------------------------------------------------------------
def _node_modules_dirs(root: Path) -> list[Path]:
    """node_modules of the root and of its ancestors (Node's lookup, for hoisted monorepo workspaces),
    not looking past a git repository's top."""
    out = []
    for d in [root, *root.parents]:
        if (d / "node_modules").is_dir():
            out.append(d / "node_modules")
        if (d / ".git").exists():
            break
    return out


def _complete_remappings(
    root: Path, sources: Sequence[Path], remappings: Sequence[Remapping], extra_roots: Sequence[Path]
) -> list[Remapping]:
    """`remappings` plus a package remapping for every import that is found only under `extra_roots`,
    following imports transitively from the own sources."""
    remaps = list(remappings)
    prefixes = {r.prefix for r in remaps}
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
            found = resolve_import(path, spec, remaps, [root])
            if found is None and not spec.startswith(("./", "../")):
                new = _package_remapping(spec, remaps, root, extra_roots)
                if new is not None and new.prefix not in prefixes:
                    remaps.append(new)
                    prefixes.add(new.prefix)
                    found = resolve_import(path, spec, remaps, [root])
            if found is not None and found not in seen:
                todo.append(found)
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
            return Remapping("/".join(parts[:n]) + "/", _remap_target(package, root))
    return None


def _unresolved(target: Target) -> list[tuple[Path, str]]:
    missing = []
    seen: set[Path] = set()
    todo = list(target.sources)
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
            found = resolve_import(path, spec, target.remappings, [target.root])
            if found is None:
                missing.append((path, spec))
            elif found not in seen:
                todo.append(found)
    return missing


# ---- small helpers -------------------------------------------------------------------------------------
def _remap_target(directory: Path, root: Path, slash: bool = True) -> str:
    """A remapping target naming `directory`: relative to root inside it, absolute outside."""
    d = Path(os.path.normpath(directory))
    text = _rel(d, root) if d.is_relative_to(root) else d.as_posix()
    return text + "/" if slash and text and not text.endswith("/") else text


def _join(base: Path, target: str) -> Path:
    return Path(os.path.normpath(base / target))


def _rel(path: Path, root: Path) -> str:
    rel = Path(os.path.relpath(os.path.normpath(path), root)).as_posix()
    return "" if rel == "." else rel


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _dedupe(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
