"""Running a chosen compiler on sources through standard JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auditor.errors import CompileError, SolcError
from auditor.solc.provider import SolcBinary, SolcProvider
from auditor.solc.settings import CompilerSettings
from auditor.solc.sources import Remapping

DEFAULT_OUTPUTS = ("abi", "evm.bytecode.object", "evm.deployedBytecode.object")


@dataclass
class CompileResult:
    binary: SolcBinary
    output: dict
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error_types: list[str] = field(default_factory=list)   # solc's type of each error: ParserError, TypeError...

    @property
    def contracts(self) -> list[tuple[str, str]]:
        """(source unit, contract name) for every contract the compiler produced."""
        return [(src, name) for src, cs in self.output.get("contracts", {}).items() for name in cs]


def run_standard_json(binary: SolcBinary, request: dict, cwd: Path, timeout: float = 600,
                      include: Sequence[Path] = (), resident: bool = True, allow: Sequence[Path] = ()) -> dict:
    """Feed a standard-JSON request to `binary` (imports are read relative to `cwd`, then `include`).

    The compiler reads imports only inside `allow` (default: `cwd`), the audit's sandbox roots.
    solc-js compilers stay resident (see server.py) unless `resident` is False.
    """
    allow = list(allow) or [cwd]
    if binary.kind == "solc-js" and resident:
        from auditor.solc.server import pool

        return pool().get(binary).compile(request, cwd, list(include), timeout, allow=allow)
    # Native solc gets only --allow-paths: include roots reach it as remappings (see targets).
    cmd = [str(binary.path), "--standard-json", "--allow-paths", ",".join(str(p) for p in allow)]
    try:
        proc = subprocess.run(cmd, input=json.dumps(request), capture_output=True, text=True,
                              cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SolcError(f"solc {binary.version} timed out after {timeout:.0f} s") from exc
    except OSError as exc:
        raise SolcError(f"solc {binary.version} could not be started: {exc}") from exc
    try:
        return json.loads(proc.stdout)
    except ValueError:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SolcError(f"solc {binary.version} returned no JSON (exit {proc.returncode}): {tail}") from None


def compile_files(
    files: Sequence[Path],
    root: Path,
    remappings: Sequence[Remapping] = (),
    provider: SolcProvider | None = None,
    binary: SolcBinary | None = None,
    outputs: Sequence[str] = DEFAULT_OUTPUTS,
    ast: bool = False,
    include: Sequence[Path] = (),
    timeout: float = 600,
    allow: Sequence[Path] = (),
    settings: CompilerSettings | None = None,
) -> CompileResult:
    """Compile `files` as one unit with the compiler their pragmas (and imports) allow.

    Source unit names are paths relative to `root`, which is also where imports are read.
    `settings`: the project's optimizer / viaIR / evmVersion (default: solc's, optimizer off).
    """
    root = root.resolve()
    if binary is None:
        binary = (provider or SolcProvider()).for_files(files, remappings, [root])
    sources = {}
    for f in files:
        f = f.resolve()
        name = os.path.relpath(f, root) if f.is_relative_to(root) else str(f)
        sources[name] = {"content": f.read_text(encoding="utf-8", errors="replace")}
    selection: dict = {"*": {"*": list(outputs)}}
    if ast:
        selection["*"][""] = ["ast"]
    request = {
        "language": "Solidity",
        "sources": sources,
        "settings": {"outputSelection": selection, "remappings": [str(r) for r in remappings],
                     **(settings or CompilerSettings()).standard_json(str(binary.version))},
    }
    if not allow:   # a caller without a sandbox trusts what it configured itself (the audit passes its own)
        allow = [root, *include, *(Path(r.target) for r in remappings if Path(r.target).is_absolute())]
    output = run_standard_json(binary, request, root, timeout=timeout, include=include, allow=allow)
    result = CompileResult(binary, output)
    for e in output.get("errors", []):
        text = (e.get("formattedMessage") or e.get("message", "")).strip()
        (result.errors if e.get("severity") == "error" else result.warnings).append(text)
        if e.get("severity") == "error":
            result.error_types.append(_error_type(e, text))
    return result


def _error_type(error: dict, text: str) -> str:
    """solc's error type; compilers before 0.4.12 (legacy interface) only say it in the message."""
    kind = str(error.get("type") or "")
    if re.fullmatch(r"\w+", kind) and kind != "Error":
        return kind
    m = re.search(r"(?:^|:\s)(\w*Error|\w*Exception):", text)
    return m[1] if m else kind or "Error"


def compile_or_raise(files: Sequence[Path], root: Path, **kwargs) -> CompileResult:
    result = compile_files(files, root, **kwargs)
    if result.errors:
        raise CompileError(f"solc {result.binary.version} rejected the sources:\n" + "\n".join(result.errors))
    return result
