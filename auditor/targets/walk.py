"""Finding a target's own `.sol` files: the directory walk, content checks, dependency dirs.

The symlink and content decisions it implements are documented in the package docstring
(`auditor.targets`, "Files and symbolic links").
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from auditor.errors import TargetError

log = logging.getLogger(__name__)

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


class Walk:
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
            self.tops.append((rel(top, self.root) or ".") + "/")
            if top.is_dir():
                self._walk(top)
        return sorted(self._found)

    def _walk(self, top: Path) -> None:
        def onerror(exc: OSError) -> None:
            if Path(exc.filename or "") == top:
                raise TargetError(f"cannot read directory {top}: {reason(exc)}")
            self.warnings.append(f"cannot read directory {rel(Path(exc.filename or top), self.root)}: {reason(exc)}")

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
                self.tests_excluded += sum(1 for _ in sol_files_quick(path))
            return False
        if self.skip_test_dirs and name in TEST_DIRS:
            self.tests_excluded += sum(1 for _ in sol_files_quick(path))
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
            return self._skip(path, reason(exc))
        problem, warning = content_problem(real)
        if problem:
            return self._skip(path, problem)
        if warning:
            self.warnings.append(f"{rel(path, self.root)}: {warning}")
        self._found.add(real)

    def _excluded_location(self, real: Path) -> bool:
        rel_path = real.relative_to(self.root)
        dirs = rel_path.parts[:-1]
        if any(p.startswith(".") or p in SKIPPED_DIRS for p in dirs):
            return True
        if any(real.is_relative_to(e) for e in self.excluded):
            return True
        return any(
            p == "lib" and _looks_like_dependency_dir(self.root.joinpath(*dirs[: i + 1])) for i, p in enumerate(dirs)
        )

    def _skip(self, path: Path, why: str) -> None:
        log.info("skipping %s: %s", path, why)
        self.skipped.append((path, why))


def sol_files_quick(d: Path) -> Iterable[Path]:
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


def content_problem(path: Path) -> tuple[str | None, str | None]:
    """(reason to skip, warning) for a source file's bytes."""
    try:
        data = path.read_bytes()
    except PermissionError:
        return "not readable (permission denied)", None
    except OSError as exc:
        return f"not readable ({reason(exc)})", None
    if b"\x00" in data:
        return "binary content (NUL bytes; UTF-16 text is not supported, save it as UTF-8)", None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 (byte {exc.start}); invalid bytes are read as U+FFFD"
    return None, None


# ---- small helpers (shared by the whole package) ---------------------------------------------------------
def rel(path: Path, root: Path) -> str:
    """`path` relative to `root`, '/'-separated; "" for the root itself."""
    text = Path(os.path.relpath(os.path.normpath(path), root)).as_posix()
    return "" if text == "." else text


def reason(exc: BaseException) -> str:
    """What went wrong, for a message ("Permission denied" rather than the whole OSError)."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
