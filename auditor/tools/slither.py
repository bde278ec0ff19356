"""Slither, in-process through its Python API, fed with SolSentry's own compile output.

Measured (benchmarks/slither_vs_cli.py): the CLI spends most of each run starting Python,
importing Slither and loading solc-js twice (`--version`, then the compile). Here the
compile comes from a resident compiler and Slither only parses and detects.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from functools import cache
from importlib.metadata import version as dist_version
from pathlib import Path

from auditor.swc import slither_confidence, slither_severity
from auditor.tools.base import RawFinding, RawLocation, Tool, ToolOutcome, Work

log = logging.getLogger(__name__)

# Outputs Slither's detectors need (with the AST): no bytecode. crytic-compile's standard-JSON
# parser indexes the bytecode fields, so `_with_code_fields` fills in what was not generated.
SLITHER_OUTPUTS = ("abi", "evm.methodIdentifiers", "userdoc", "devdoc")


# Detectors whose one result lists places in many files of the build (every pragma directive of a
# version): which file it belongs to (auditor/group_stage.py) must not depend on Slither's order.
BUILD_WIDE = frozenset({"pragma", "solc-version"})


@cache
def _detectors() -> list[type]:
    from slither.detectors import all_detectors
    from slither.detectors.abstract_detector import AbstractDetector

    return [d for d in vars(all_detectors).values()
            if inspect.isclass(d) and issubclass(d, AbstractDetector) and d is not AbstractDetector]


@cache
def _version() -> str:
    """Read once: every file's cache key names it, and each read parses the package metadata."""
    return dist_version("slither-analyzer")


@cache
def _titles() -> dict[str, str]:
    return {d.ARGUMENT: d.WIKI_TITLE or d.HELP for d in _detectors()}


def _quiet() -> None:
    """Slither and crytic-compile log parse problems at ERROR; the outcome carries them instead."""
    prefixes = ("Slither", "Crytic", "Detectors", "SlithIR", "Printers", "Contract", "Function")
    for name in ["Slither", "SlitherSolcParsing", "CryticCompile", *logging.root.manager.loggerDict]:
        if name.startswith(prefixes):
            logging.getLogger(name).setLevel(logging.CRITICAL)


class SlitherTool(Tool):
    NAME = "slither"
    DESCRIPTION = "Slither static analyzer (Trail of Bits), every detector, in-process"
    SCOPE = "file"
    COMPILED_OUTPUTS = SLITHER_OUTPUTS
    BUILD_WIDE = BUILD_WIDE

    def version(self) -> str:
        return _version()

    def warm(self) -> None:
        import crytic_compile.platform.solc_standard_json  # noqa: F401
        import slither  # noqa: F401

        _detectors()

    def analyze_compiled(self, output: dict, work: Work) -> ToolOutcome:
        """In the file stage's worker, on its compile output: no second compile."""
        return analyze_output(output, work)

    def run(self, work: Work) -> ToolOutcome:
        from auditor.solc.compiler import compile_files
        from auditor.solc.provider import SolcBinary
        from auditor.solc.sources import Remapping
        from auditor.solc.versions import Version

        started = time.monotonic()
        binary = SolcBinary(Version.parse(work.solc_version), Path(work.solc_path), work.solc_kind)
        root = Path(work.root)
        result = compile_files([root / f for f in work.unit], root, [Remapping.parse(r) for r in work.remappings],
                               binary=binary, outputs=SLITHER_OUTPUTS, ast=True,
                               include=[Path(p) for p in work.include])
        if result.errors:
            return ToolOutcome("failed", message="compile error: " + result.errors[0].splitlines()[0],
                               duration_s=time.monotonic() - started)
        return analyze_output(result.output, work, started)


def analyze_output(output: dict, work: Work, started: float | None = None) -> ToolOutcome:
    """Run every Slither detector on an existing standard-JSON compile output."""
    started = started if started is not None else time.monotonic()
    try:
        slither = _load(_with_code_fields(output), work)
        found: list[RawFinding] = []
        for results in slither.run_detectors():
            for r in results:
                raw = _convert(r, work.root)
                if raw is not None:
                    found.append(raw)
    except Exception as exc:  # Slither raises many unrelated types on code it cannot parse
        log.debug("slither failed on %s", work.file, exc_info=True)
        detail = str(exc).strip() or "Slither could not analyze this code (an internal error of Slither)"
        # A crash of Slither, not a finding about the code: not cached (a fixed Slither re-runs).
        return ToolOutcome("failed", message=f"{type(exc).__name__}: {detail}"[:500],
                           duration_s=time.monotonic() - started, infrastructure=True)
    return ToolOutcome("ok", found, duration_s=time.monotonic() - started)


def _with_code_fields(output: dict) -> dict:
    """`output` with empty bytecode fields where solc generated none (an analysis-only compile)."""
    for contracts in output.get("contracts", {}).values():
        for info in contracts.values():
            evm = info.setdefault("evm", {})
            for part in ("bytecode", "deployedBytecode"):
                code = evm.setdefault(part, {})
                code.setdefault("object", "")
                code.setdefault("sourceMap", "")
    return output


def _load(output: dict, work: Work):
    from crytic_compile import CryticCompile
    from crytic_compile.compilation_unit import CompilationUnit
    from crytic_compile.compiler.compiler import CompilerVersion
    from crytic_compile.platform.abstract_platform import AbstractPlatform
    from crytic_compile.platform.solc_standard_json import SolcStandardJson, parse_standard_json_output
    from slither import Slither

    _quiet()
    root = work.root

    class Precompiled(SolcStandardJson):
        """A crytic-compile platform whose 'compile' is the output SolSentry already has."""

        def __init__(self, target: str) -> None:
            # The base class would read `target` as a standard-JSON input file.
            AbstractPlatform.__init__(self, target)
            self._json = {}

        def compile(self, crytic_compile: CryticCompile, **_kwargs: object) -> None:
            unit = CompilationUnit(crytic_compile, "solsentry")
            unit.compiler_version = CompilerVersion(compiler="solc", version=work.solc_version, optimized=False)
            parse_standard_json_output(output, unit, solc_working_dir=root)

        def clean(self, **_kwargs: object) -> None:
            return

    if any(not s.get("ast") for s in output.get("sources", {}).values()):
        # Compilers before 0.4.12 give no compact AST in standard JSON: let crytic-compile run
        # the wrapper in combined-JSON mode, which yields the legacy AST Slither also reads.
        sl = Slither(str(Path(root) / work.file), solc=work.solc_path, solc_remaps=list(work.remappings),
                     solc_working_dir=root)
    else:
        cwd = os.getcwd()
        os.chdir(root)  # crytic-compile resolves relative source names against the working directory
        try:
            sl = Slither(CryticCompile(Precompiled(str(Path(root) / work.file))))
        finally:
            os.chdir(cwd)
    for detector in _detectors():
        sl.register_detector(detector)
    return sl


def _convert(result: dict, root: str) -> RawFinding | None:
    locations = []
    for element in result.get("elements", []):
        loc = _location(element, root)
        if loc is not None and loc not in locations:
            locations.append(loc)
    if not locations:
        return None
    check = result["check"]
    if check in BUILD_WIDE:    # the file whose place comes first owns it, whatever the build's order
        locations.sort(key=lambda loc: (loc.file, loc.start_line))
    return RawFinding(
        tool="slither", detector=check, title=_titles().get(check, check),
        description=" ".join(result.get("description", "").split()),
        severity=slither_severity(result.get("impact", "Informational")),
        confidence=slither_confidence(result.get("confidence", "Medium")),
        locations=locations[:12],
    )


def _location(element: dict, root: str) -> RawLocation | None:
    sm = element.get("source_mapping") or {}
    lines = sm.get("lines") or []
    filename = sm.get("filename_absolute") or sm.get("filename_relative")
    if not lines or not filename:
        return None
    path = Path(filename)
    rel = os.path.relpath(path, root) if path.is_absolute() else filename
    contract, function = _owners(element)
    return RawLocation(rel.replace(os.sep, "/"), min(lines), max(lines), contract, function)


def _owners(element: dict) -> tuple[str | None, str | None]:
    """The contract and function an element belongs to (walking type_specific_fields.parent)."""
    contract = function = None
    node: dict | None = element
    while node:
        kind = node.get("type")
        if kind == "function" and function is None:
            function = node.get("name")
        elif kind == "contract" and contract is None:
            contract = node.get("name")
        node = (node.get("type_specific_fields") or {}).get("parent")
    return contract, function
