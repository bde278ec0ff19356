"""Analysis tools: one small class per tool, declaring its metadata; the pipeline owns the flow."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from auditor.findings import Confidence, Severity


@dataclass(frozen=True)
class Work:
    """One unit of work for a tool; plain data so it can cross into worker processes."""

    root: str                      # absolute target root; tools run with it as working directory
    file: str                      # the own source file, relative to root
    unit: tuple[str, ...]          # files compiled with it (itself + transitive imports), relative or absolute
    solc_path: str
    solc_version: str
    solc_kind: str
    remappings: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()    # the sandbox's roots: the only directories tools may read (auditor/sandbox.py)
    # The compiler settings used with solc_* (CompilerSettings JSON, auditor/solc/settings.py; "": solc's defaults).
    solc_settings: str = ""
    # The compilers the file stage tries in order (Candidate.as_tuple()); empty: solc_* and solc_settings alone.
    # Tuples of strings, so dataclasses.asdict (the Mythril stage copies Work with it) keeps them as they are.
    candidates: tuple[tuple[str, ...], ...] = ()
    contract: str | None = None    # for per-contract tools
    timeout_s: float = 600


@dataclass
class RawLocation:
    file: str                      # relative to root
    start_line: int
    end_line: int
    contract: str | None = None
    function: str | None = None


@dataclass
class RawFinding:
    """A tool's finding before normalization (the SWC table and merging come later)."""

    tool: str
    detector: str                  # Slither check name, or Mythril "SWC-<id>"
    title: str
    description: str
    severity: Severity
    confidence: Confidence
    locations: list[RawLocation]


@dataclass
class ToolOutcome:
    state: Literal["ok", "failed", "timeout", "skipped"]
    findings: list[RawFinding] = field(default_factory=list)
    message: str | None = None
    duration_s: float = 0.0
    # True when the outcome says something about this machine, not about the code (a crash of the
    # tool, memory, a kill under a limit the cache key does not hold): never cached, so a re-run
    # analyzes again. Findings, and a timeout under the budget in the tool's settings_key, are
    # outcomes of the code and are cached.
    infrastructure: bool = False


class Tool(ABC):
    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str]
    # "file": one run per own source file; "contract": one per deployable contract.
    SCOPE: ClassVar[Literal["file", "contract"]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for attr in ("NAME", "DESCRIPTION", "SCOPE"):
            if not getattr(cls, attr, None):
                raise TypeError(f"tool {cls.__name__} must declare {attr}")
        if cls.SCOPE not in ("file", "contract"):
            raise TypeError(f"tool {cls.__name__}: SCOPE must be 'file' or 'contract'")

    @abstractmethod
    def version(self) -> str:
        """The tool's version (part of the cache key)."""

    def unavailable(self) -> str | None:
        """Why the tool cannot run here, or None when it can."""
        return None

    def settings_key(self) -> str:
        """Settings that change the tool's results (part of the cache key)."""
        return ""

    @abstractmethod
    def run(self, work: Work) -> ToolOutcome:
        """Analyze one unit; never raises for a problem with the input (returns failed)."""
