"""Work that runs in worker processes: compile a file once, list its deployable contracts, and
run the file-scope tools that analyze that compile output (`Tool.analyze_compiled`, e.g. Slither
in-process). Plain data in, plain data out (picklable)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from auditor.tools.base import Tool, ToolOutcome, Work

# What every file stage compiles (the deployable contracts); the tools add the outputs they need.
BASE_OUTPUTS = ("evm.deployedBytecode.object",)


@dataclass
class Deployable:
    name: str
    file: str
    start_line: int
    end_line: int


@dataclass
class FileStage:
    errors: list[str] = field(default_factory=list)
    warnings: int = 0
    contracts: list[Deployable] = field(default_factory=list)
    outcomes: dict[str, ToolOutcome] = field(default_factory=dict)   # tool name -> its outcome on the file
    # The errors are this machine's (the compiler crashed or was killed, the worker died), not a
    # verdict on the code: the stage is not cached (see ToolOutcome.infrastructure).
    infrastructure: bool = False
    # The compiler that gave this verdict: Candidate.as_tuple() with the settings actually used, and
    # what it took (a fallback to an older compiler, the viaIR retry), for the report and Mythril.
    solc: tuple[str, ...] | None = None
    solc_note: str | None = None

    @property
    def cacheable(self) -> bool:
        """The compile verdict is an outcome of the code (each tool's outcome is cached on its own)."""
        return not self.infrastructure


def worker_init() -> None:
    logging.basicConfig(level=logging.ERROR)


def warm_up(tools: tuple[Tool, ...], compilers: tuple[tuple[str, str], ...] = ()) -> None:
    """The first task of a stage worker, while the parent plans: the tools' imports, and the
    resident compilers of the project's configured versions ((version, path) of solc-js), loaded
    and through one compile (soljson's load and first compile: ~1 s of a one-file re-audit)."""
    import tempfile

    from auditor.errors import AuditorError
    from auditor.solc.compiler import run_standard_json
    from auditor.solc.provider import SolcBinary
    from auditor.solc.server import pool
    from auditor.solc.versions import Version

    for version, path in compilers:     # node loads soljson on the other CPU while the tools import
        pool().get(SolcBinary(Version.parse(version), Path(path), "solc-js")).start()
    for tool in tools:
        tool.warm()
    for version, path in compilers:
        source = "contract W { function f() external {} }"
        request = {"language": "Solidity", "sources": {"warm.sol": {"content": source}},
                   "settings": {"outputSelection": {"*": {"*": ["abi"], "": ["ast"]}}}}
        with tempfile.TemporaryDirectory() as tmp:
            try:
                run_standard_json(SolcBinary(Version.parse(version), Path(path), "solc-js"), request, Path(tmp),
                                  timeout=60)
            except AuditorError:
                continue      # the stage will say what is wrong with this compiler


def run_file_stage(work: Work, tools: tuple[Tool, ...] = (), foreign: tuple[str, ...] = ()) -> FileStage:
    """`foreign`: the other own files of the audit in this file's unit; what a tool finds there
    belongs to their own stages (the same rule as a build group's, auditor/group_stage.py)."""
    from auditor.errors import AuditorError
    from auditor.solc.compiler import compile_files
    from auditor.solc.fallback import compile_first
    from auditor.solc.settings import Candidate, CompilerSettings
    from auditor.solc.sources import Remapping

    outputs = stage_outputs(work, tools)
    root = Path(work.root)
    candidates = [Candidate.from_tuple(t) for t in work.candidates] or [
        Candidate(work.solc_version, work.solc_path, work.solc_kind, CompilerSettings.from_json(work.solc_settings))]

    def compile_with(binary, settings):
        return compile_files([root / f for f in work.unit], root, [Remapping.parse(r) for r in work.remappings],
                             binary=binary, outputs=outputs, ast=True, settings=settings,
                             include=[Path(p) for p in work.include], timeout=work.timeout_s,
                             allow=[Path(p) for p in work.allow])

    try:
        # The first candidate that compiles (auditor/solc/fallback.py): the project's compiler, the
        # newest allowed, then older series when the errors are ones an older compiler may accept.
        compiled = compile_first(candidates, compile_with)
    except AuditorError as exc:    # no compiler verdict: it crashed, timed out or could not start
        return FileStage(errors=[str(exc)], infrastructure=True)
    result, used = compiled.result, replace(compiled.candidate, settings=compiled.settings)
    meta = {"solc": used.as_tuple(), "solc_note": compiled.note}
    if result.errors:
        return FileStage(errors=result.errors, warnings=len(result.warnings), **meta)
    contracts = deployables(result.output, work.file, root, work.codegen)
    stage = FileStage(warnings=len(result.warnings), contracts=contracts, **meta)
    compiled_work = replace(work, solc_path=used.path, solc_version=used.version, solc_kind=used.kind,
                            solc_settings=used.settings.to_json())
    for tool in tools:
        outcome = tool.analyze_compiled(result.output, compiled_work)
        outcome.findings = [f for f in outcome.findings if not (f.locations and f.locations[0].file in foreign)]
        stage.outcomes[tool.NAME] = outcome
    return stage


def stage_outputs(work: Work, tools: tuple[Tool, ...]) -> tuple[str, ...]:
    """What the stage asks solc for: the tools' outputs, and the deployable bytecode when code is generated."""
    base = BASE_OUTPUTS if work.codegen else ("abi",)
    return tuple(dict.fromkeys(base + tuple(o for t in tools for o in t.COMPILED_OUTPUTS)))


def stage_to_json(stage: FileStage) -> dict:
    return {"errors": stage.errors, "warnings": stage.warnings, "contracts": [asdict(c) for c in stage.contracts],
            "solc": list(stage.solc) if stage.solc else None, "solc_note": stage.solc_note}


def stage_from_json(d: dict) -> FileStage:
    return FileStage(errors=d["errors"], warnings=d.get("warnings", 0),
                     contracts=[Deployable(**c) for c in d["contracts"]],
                     solc=tuple(d["solc"]) if d.get("solc") else None, solc_note=d.get("solc_note"))


def deployables(output: dict, file: str, root: Path, codegen: bool = True) -> list[Deployable]:
    """Contracts of `file` that can be deployed: not interfaces, libraries or abstract contracts
    (and, when code was generated, with bytecode)."""
    found = []
    source = output.get("sources", {}).get(file, {})
    ast = source.get("ast") or {}
    text = (root / file).read_bytes() if (root / file).is_file() else b""
    kinds: dict[str, tuple[str, bool, str]] = {}
    for node in ast.get("nodes", []):
        if node.get("nodeType") == "ContractDefinition":
            abstract = node.get("abstract", False) or node.get("fullyImplemented") is False
            kinds[node["name"]] = (node.get("contractKind", "contract"), abstract, node.get("src", "0:0:0"))
    for name, info in output.get("contracts", {}).get(file, {}).items():
        if codegen and not info.get("evm", {}).get("deployedBytecode", {}).get("object"):
            continue
        kind, abstract, src = kinds.get(name, ("contract", False, "0:0:0"))
        if kind != "contract" or abstract:
            continue
        start, length = (int(x) for x in src.split(":")[:2])
        first = text[:start].count(b"\n") + 1
        last = text[: start + length].count(b"\n") + 1
        found.append(Deployable(name, file, first, max(first, last)))
    return sorted(found, key=lambda d: d.start_line)
