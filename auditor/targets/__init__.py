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

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auditor.errors import TargetError
from auditor.sandbox import Sandbox, for_roots
from auditor.solc.sources import Remapping
from auditor.targets.compilers import CompilerConfig
from auditor.targets.frameworks import (
    HARDHAT_CONFIGS,
    TRUFFLE_CONFIGS,
    Kind,
    Project,
    detect_project,
    enclosing_project,
)
from auditor.targets.remappings import (
    FOUNDRY_CONFIG,
    complete_remappings,
    join,
    node_modules_dirs,
    remap_target,
    unresolved,
)
from auditor.targets.walk import (
    SKIPPED_DIRS,
    TEST_DIRS,
    TEST_SUFFIXES,
    Walk,
    content_problem,
    reason,
    sol_files_quick,
)

__all__ = [
    "FOUNDRY_CONFIG",
    "HARDHAT_CONFIGS",
    "SKIPPED_DIRS",
    "TEST_DIRS",
    "TEST_SUFFIXES",
    "TRUFFLE_CONFIGS",
    "Kind",
    "Target",
    "load_target",
]


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
    # The files this audit may read (auditor/sandbox.py); set by load_target.
    sandbox: Sandbox | None = None
    # The compilers and settings the project's config sets (targets/compilers.py); None: from the pragmas.
    compilers: CompilerConfig | None = None

    # Memos: planning asks about each file of a project many times (every unit it is part of).
    _absolute: dict[str, Path] = field(default_factory=dict, repr=False, compare=False)
    _source_set: tuple[int, int, frozenset[Path]] | None = field(default=None, repr=False, compare=False)

    def absolute(self, path: str | Path) -> Path:
        """`path` made absolute (a relative one, e.g. a solc source unit name, is taken from the root)."""
        key = str(path)
        if key in self._absolute:
            return self._absolute[key]
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        try:
            found = p.resolve()
        except (OSError, RuntimeError):  # a symlink loop: keep the lexical path
            found = Path(os.path.abspath(p))
        self._absolute[key] = found
        return found

    def relpath(self, path: str | Path) -> str:
        """`path` relative to the root, '/'-separated (`../x` for a file outside the root)."""
        return Path(os.path.relpath(self.absolute(path), self.root)).as_posix()

    def is_source(self, path: str | Path) -> bool:
        """Whether `path` is one of the target's own sources."""
        memo = self._source_set
        if memo is None or memo[:2] != (id(self.sources), len(self.sources)):   # sources were replaced
            memo = self._source_set = (id(self.sources), len(self.sources), frozenset(self.sources))
        return self.absolute(path) in memo[2]

    def is_dependency(self, path: str | Path) -> bool:
        """Anything that is not an own source: node_modules, lib/ packages, excluded tests..."""
        return not self.is_source(path)


def load_target(path: str | Path, include_tests: bool = False, allow_paths: Sequence[str | Path] = (),
                hosted: bool = False) -> Target:
    """What to audit at `path`; raises TargetError with a message fit for the user.

    `allow_paths`: directories outside the target that its imports may read (CLI `--allow-path`).
    `hosted`: a submission audited for someone else (API, oracle): the target stands alone, no
    enclosing project or parent `node_modules` is looked at, and no outside path is allowed."""
    if hosted and allow_paths:
        raise TargetError("a hosted audit never reads outside the submitted files (allow_paths given)")
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
        raise TargetError(f"cannot access {given}: {reason(exc)}") from None
    for extra in allow_paths:
        if not Path(extra).expanduser().is_dir():
            raise TargetError(f"--allow-path {extra}: not a directory")
    if stat.S_ISDIR(mode):
        target = _load_directory(given, real, include_tests, hosted)
    elif not stat.S_ISREG(mode):
        raise TargetError(f"{given} is neither a regular file nor a directory")
    else:
        target = _load_file(given, real, hosted)
    return _finish(target, [Path(p).expanduser() for p in allow_paths], hosted)


# ---- the three shapes of target ------------------------------------------------------------------
def _load_file(given: Path, real: Path, hosted: bool) -> Target:
    if real.suffix != ".sol" and given.suffix != ".sol":
        raise TargetError(f"{given} is not a Solidity (.sol) file")
    problem, warning = content_problem(real)
    if problem:
        raise TargetError(f"cannot audit {given}: {problem}")
    root = real.parent
    target = Target(given, root, "file", [real])
    if warning:
        target.warnings.append(f"{given}: {warning}")
    if not hosted:
        _borrow_project(target, enclosing_project(root))
    return target


def _load_directory(given: Path, root: Path, include_tests: bool, hosted: bool) -> Target:
    project = detect_project(root)
    if project is None:
        target = Target(given, root, "directory", [])
        walk = Walk(root, skip_tests=not include_tests, skip_test_dirs=False)
        target.sources = walk.run([root])
        if not hosted:
            _borrow_project(target, enclosing_project(root.parent))
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
            compilers=project.compilers,
        )
        walk = Walk(
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
                for _ in sol_files_quick(d)
            )
    target.skipped = walk.skipped
    target.warnings += walk.warnings
    if not target.sources:
        raise TargetError(_nothing_found(given, target.kind, walk))
    return target


def _nothing_found(given: Path, kind: str, walk: Walk) -> str:
    msg = f"no Solidity files under {given}"
    if kind != "directory":
        msg += f" ({kind} project; looked in {', '.join(walk.tops) or 'the project root'})"
    notes = []
    if walk.tests_excluded:
        notes.append(f"{walk.tests_excluded} test/script file(s) excluded: pass --include-tests to audit them")
    if walk.skipped:
        first_path, first_reason = walk.skipped[0]
        notes.append(f"{len(walk.skipped)} skipped, e.g. {first_path.name}: {first_reason}")
    return msg + (f" [{'; '.join(notes)}]" if notes else "")


def _finish(target: Target, allow_paths: list[Path], hosted: bool) -> Target:
    target.sandbox = for_roots(target.root, target.project_root, allow_paths, hosted)
    modules = [target.root / "node_modules"] if hosted else node_modules_dirs(target.root)
    target.include_roots = _dedupe([target.root, *target.include_roots, *(m for m in modules if m.is_dir())])
    target.remappings = complete_remappings(target.root, target.sources, target.remappings, target.include_roots[1:],
                                            target.sandbox)
    for spec_file, spec in unresolved(target.root, target.sources, target.remappings, target.sandbox):
        target.warnings.append(f"{target.relpath(spec_file)}: import {spec!r} not found")
    return target


def _borrow_project(target: Target, project: Project | None) -> None:
    """A file or plain directory inside a framework project uses the project's import setup."""
    if project is None:
        return
    target.project_root = project.root
    target.config = project.config
    target.compilers = project.compilers   # a file of the project compiles as the project configures it
    target.include_roots = [project.root, *project.include_roots]
    target.remappings = [
        Remapping(r.prefix, remap_target(join(project.root, r.target), target.root, r.target.endswith("/")))
        for r in project.remappings
    ]


def _dedupe(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out
