"""The labelled-dataset model every loader (auditor/evaluation/dataset.py's `LOADERS`) builds.

A dataset is a root directory, the directory to audit inside it, and the labelled files with
their vulnerabilities. One `Label` is one labelled vulnerability: a category and the line(s) it
is reported at. SmartBugs marks some vulnerabilities on several consecutive lines (`"lines":
[23, 24]`); that is still one vulnerability, found when any of its lines is matched (so the
curated set has 207 labels on 222 lines). Labels from an SWC-labelled dataset also carry their
SWC id, for the per-SWC breakdown of the scores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from auditor.errors import AuditorError
from auditor.findings import Category


class DatasetError(AuditorError):
    """A labelled dataset is missing, malformed, or disagrees with itself."""


@dataclass(frozen=True)
class Label:
    """One labelled vulnerability: its category and the line(s) that show it (1-based)."""

    category: Category
    lines: tuple[int, ...]
    swc: str | None = field(default=None, metadata={"doc": "Normalized 'SWC-nnn' (SmartBugs labels have none)"})

    @property
    def line(self) -> int:
        return self.lines[0]


@dataclass(frozen=True)
class LabelledFile:
    path: str = field(metadata={"doc": "'/'-separated, relative to the dataset root"})
    labels: tuple[Label, ...]
    pragma: str | None = None

    def pairs(self) -> Iterator[tuple[Category, int]]:
        """Every (category, line) the file is labelled with."""
        for label in self.labels:
            for line in label.lines:
                yield label.category, line


@dataclass
class LabelledDataset:
    name: str
    root: Path
    audit_root: Path = field(metadata={"doc": "The directory to audit (SmartBugs: <root>/dataset)"})
    files: list[LabelledFile]
    subsets: dict[str, frozenset[str]] = field(default_factory=dict)
    # Labels a loader read but left out of `files` because they are never scored (code_quality):
    # counted here so that a reader comparing with the source's own totals sees where they went.
    skipped: dict[str, int] = field(default_factory=dict, metadata={
        "doc": "SWC id (or category, for a label with none) -> labels left out as not scored"})
    notes: list[str] = field(default_factory=list, metadata={"doc": "What else the loader left out, in words"})
    _by_path: dict[str, LabelledFile] = field(init=False, repr=False)
    _by_suffix: dict[tuple[str, ...], set[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_path = {}
        self._by_suffix = {}
        for f in self.files:
            if f.path in self._by_path:
                raise DatasetError(f"{self.name}: {f.path} is labelled twice")
            self._by_path[f.path] = f
            parts = path_parts(f.path)
            for k in range(1, len(parts) + 1):
                self._by_suffix.setdefault(parts[-k:], set()).add(f.path)
        for name, paths in self.subsets.items():
            unknown = sorted(set(paths) - self._by_path.keys())
            if unknown:
                raise DatasetError(f"{self.name}: subset {name!r} names unlabelled files: {', '.join(unknown[:5])}")

    @property
    def label_count(self) -> int:
        return sum(len(f.labels) for f in self.files)

    @property
    def line_count(self) -> int:
        return sum(len(label.lines) for f in self.files for label in f.labels)

    @property
    def skipped_count(self) -> int:
        return sum(self.skipped.values())

    def file(self, path: str) -> LabelledFile | None:
        resolved = self.resolve(path)
        return None if resolved is None else self._by_path[resolved]

    def resolve(self, path: str) -> str | None:
        """The labelled file a path (from a report, relative to any directory) names, or None.

        Matched by the longest '/'-component suffix that names exactly one labelled file, so
        "reentrancy/a.sol", "dataset/reentrancy/a.sol" and "/x/dataset/reentrancy/a.sol" all
        resolve to "dataset/reentrancy/a.sol"; a bare "a.sol" resolves only if no other labelled
        file has that name.
        """
        parts = path_parts(path)
        for k in range(len(parts), 0, -1):
            hits = self._by_suffix.get(parts[-k:])
            if hits is not None and len(hits) == 1:
                return next(iter(hits))
        return None


def path_parts(path: str) -> tuple[str, ...]:
    """A path's components, '/' or '\\' separated, without the root and '.' components."""
    return tuple(p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("/", "."))


def label_lines(value: object, where: str, length: int) -> tuple[int, ...]:
    """A label's lines, checked: a non-empty list of line numbers inside a file of `length` lines.

    A line past the end means the labels were written for another version of the file, so it is
    an error rather than a label that could never be found.
    """
    if not isinstance(value, list) or not value:
        raise DatasetError(f"{where}: expected a non-empty list of line numbers, got {value!r}")
    bad = [n for n in value if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= length]
    if bad:
        raise DatasetError(f"{where}: bad line numbers {bad!r} (the file has {length} lines)")
    return tuple(value)


def source_length(path: Path) -> int:
    try:
        return len(path.read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
