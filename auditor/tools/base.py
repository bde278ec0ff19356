"""Analysis tools: one small class per tool, declaring its metadata; the pipeline owns the flow."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from auditor.findings import Confidence, Severity

Scope = Literal["file", "contract", "bytecode"]
SCOPES: tuple[Scope, ...] = ("file", "contract", "bytecode")


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
    # Whether the file stage generates code: only when a tool needs the deployable contracts' bytecode
    # (a contract-scope tool, Mythril). Analysis alone (Slither) needs the AST and ABI: with the
    # optimizer on, code generation is most of a compile (Aave v3: 58 s of 66).
    codegen: bool = True
    # For bytecode-scope tools: the file (relative to root) holding the runtime code as hex; "" for sources.
    bytecode: str = ""


@dataclass
class RawLocation:
    file: str                      # relative to root
    start_line: int
    end_line: int
    contract: str | None = None
    function: str | None = None
    pc: int | None = None          # program counter, for findings in bytecode


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
    # The units it runs on: "file" (each own source file), "contract" (each deployable contract),
    # "bytecode" (the runtime code of a bytecode target). One scope, or a tuple of them.
    SCOPE: ClassVar[Scope | tuple[Scope, ...]]
    # A file-scope tool that analyzes the shared compile output (`analyze_compiled`) names the
    # standard-JSON outputs it needs; the file stage compiles with them and calls it in the worker.
    COMPILED_OUTPUTS: ClassVar[tuple[str, ...]] = ()
    # Detectors whose one finding lists places in many files of a build (Slither's `pragma`): in a
    # build group, the first member file it lists owns it (auditor/group_stage.py).
    BUILD_WIDE: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for attr in ("NAME", "DESCRIPTION", "SCOPE"):
            if not getattr(cls, attr, None):
                raise TypeError(f"tool {cls.__name__} must declare {attr}")
        if not set(scopes(cls)) <= set(SCOPES):
            raise TypeError(f"tool {cls.__name__}: SCOPE must be one or more of {', '.join(SCOPES)}")

    @abstractmethod
    def version(self) -> str:
        """The tool's version (part of the cache key)."""

    def unavailable(self) -> str | None:
        """Why the tool cannot run here, or None when it can."""
        return None

    def settings_key(self) -> str:
        """Settings that change the tool's results (part of the cache key)."""
        return ""

    def model_settings(self) -> str:
        """Settings that change its results, as a node states them in its `modelHash` config ("": none)."""
        return ""

    @abstractmethod
    def run(self, work: Work) -> ToolOutcome:
        """Analyze one unit; never raises for a problem with the input (returns failed)."""

    def warm(self) -> None:
        """Import what `analyze_compiled` needs, in a stage worker while the audit is still planning."""
        return None

    def analyze_compiled(self, output: dict, work: Work) -> ToolOutcome:
        """Analyze a file from the file stage's compile output (only for tools with COMPILED_OUTPUTS)."""
        raise NotImplementedError


def scopes(tool: type[Tool] | Tool) -> tuple[Scope, ...]:
    scope = tool.SCOPE
    return (scope,) if isinstance(scope, str) else tuple(scope)
