"""Work that runs in worker processes: compile a file once, list its deployable contracts,
and run Slither on that compile output. Plain data in, plain data out (picklable)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from auditor.tools.base import ToolOutcome, Work


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
    slither: ToolOutcome | None = None
    # The errors are this machine's (the compiler crashed or was killed, the worker died), not a
    # verdict on the code: the stage is not cached (see ToolOutcome.infrastructure).
    infrastructure: bool = False
    # The compiler that gave this verdict: Candidate.as_tuple() with the settings actually used, and
    # what it took (a fallback to an older compiler, the viaIR retry), for the report and Mythril.
    solc: tuple[str, ...] | None = None
    solc_note: str | None = None

    @property
    def cacheable(self) -> bool:
        return not self.infrastructure and not (self.slither is not None and self.slither.infrastructure)


def worker_init() -> None:
    logging.basicConfig(level=logging.ERROR)


def run_file_stage(work: Work, with_slither: bool) -> FileStage:
    from auditor.errors import AuditorError
    from auditor.solc.compiler import compile_files
    from auditor.solc.fallback import compile_first
    from auditor.solc.settings import Candidate, CompilerSettings
    from auditor.solc.sources import Remapping
    from auditor.tools.slither import SLITHER_OUTPUTS, analyze_output

    root = Path(work.root)
    candidates = [Candidate.from_tuple(t) for t in work.candidates] or [
        Candidate(work.solc_version, work.solc_path, work.solc_kind, CompilerSettings.from_json(work.solc_settings))]

    def compile_with(binary, settings):
        return compile_files([root / f for f in work.unit], root, [Remapping.parse(r) for r in work.remappings],
                             binary=binary, outputs=SLITHER_OUTPUTS, ast=True, settings=settings,
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
    stage = FileStage(warnings=len(result.warnings), contracts=deployables(result.output, work.file, root), **meta)
    if with_slither:
        stage.slither = analyze_output(result.output, replace(work, solc_path=used.path, solc_version=used.version,
                                                              solc_kind=used.kind,
                                                              solc_settings=used.settings.to_json()))
    return stage


def deployables(output: dict, file: str, root: Path) -> list[Deployable]:
    """Contracts of `file` that can be deployed: not interfaces, libraries or abstract contracts."""
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
        if not info.get("evm", {}).get("deployedBytecode", {}).get("object"):
            continue
        kind, abstract, src = kinds.get(name, ("contract", False, "0:0:0"))
        if kind != "contract" or abstract:
            continue
        start, length = (int(x) for x in src.split(":")[:2])
        first = text[:start].count(b"\n") + 1
        last = text[: start + length].count(b"\n") + 1
        found.append(Deployable(name, file, first, max(first, last)))
    return sorted(found, key=lambda d: d.start_line)
