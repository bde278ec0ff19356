"""Compiling a file with the first of its candidate compilers that accepts it (in the worker).

The plan orders the candidates (auditor/solc/choice.py). A candidate is left for the next one
only when its errors are of the kinds an older compiler may accept (syntax and type rules that
changed between releases); a missing import or an internal compiler error would fail the same
way with every version, so the first verdict stands. "Stack too deep" is retried once, on the
same compiler, with the optimizer and the IR pipeline on (what projects with deep functions
configure). A setting the compiler does not know (an `evmVersion` newer than it) is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from auditor.errors import SolcInstallError
from auditor.solc.compiler import CompileResult
from auditor.solc.provider import SolcBinary, SolcProvider
from auditor.solc.settings import VIA_IR_SINCE, Candidate, CompilerSettings
from auditor.solc.versions import Version

# Error types whose rules changed between solc releases: an older compiler may accept the source.
OLDER_MAY_ACCEPT = frozenset({"ParserError", "SyntaxError", "TypeError", "DeclarationError",
                              "DocstringParsingError"})
# ...unless the error is about finding a file, which no compiler version changes.
_IMPORT_FAILURES = ("not found", "allowed directories", "file outside of", "cannot import")

Compile = Callable[[SolcBinary, CompilerSettings], CompileResult]


@dataclass
class Compiled:
    """The compile to report: the first that succeeded, else the first candidate's failure."""

    result: CompileResult
    candidate: Candidate          # its compiler (with the path it ran from)
    settings: CompilerSettings    # the settings actually used
    note: str | None = None       # a fallback or retry that was needed, said for the report


def compile_first(candidates: Sequence[Candidate], compile: Compile) -> Compiled:
    """Try `candidates` in order; raises the install error when not one of them could be had."""
    failed: list[Compiled] = []
    unavailable: list[str] = []
    retried_ir = False
    install_error: SolcInstallError | None = None
    for cand in candidates:
        try:
            binary = candidate_binary(cand)
        except SolcInstallError as exc:
            install_error = install_error or exc
            unavailable.append(cand.version)
            continue
        cand = replace(cand, path=str(binary.path), kind=binary.kind)
        notes: list[str] = []
        settings = cand.settings
        result = compile(binary, settings)
        if result.errors and settings.evm_version and _unknown_evm(result):
            notes.append(f"evmVersion {settings.evm_version!r} is unknown to solc {cand.version}: its default was used")
            settings = settings.without_evm_version()
            result = compile(binary, settings)
        if (result.errors and not retried_ir and _stack_too_deep(result) and _has_via_ir(cand.version)
                and settings.with_ir() != settings):
            retried_ir = True
            retry = settings.with_ir()
            second = compile(binary, retry)
            if not second.errors:
                notes.append("compiled with the optimizer and viaIR on: without them solc reports "
                             "'Stack too deep'")
                result, settings = second, retry
        attempt = Compiled(result, cand, settings, "; ".join(notes) or None)
        if not result.errors:
            if failed:
                tried = ", ".join(f.candidate.version for f in failed)
                kinds = ", ".join(dict.fromkeys(t for f in failed for t in f.result.error_types))
                attempt.note = _join(f"fallback: solc {tried} rejected the file ({kinds}); "
                                     f"solc {cand.version} compiled it", attempt.note)
            return attempt
        failed.append(attempt)
        if not older_may_accept(result):
            break
    if not failed:
        assert install_error is not None
        raise install_error
    first = failed[0]
    others = [f.candidate.version for f in failed[1:]]
    if others:
        first.note = _join(f"also tried solc {', '.join(others)}: none compiled it", first.note)
    if unavailable:
        first.note = _join(f"solc {', '.join(unavailable)} could not be installed", first.note)
    return first


def older_may_accept(result: CompileResult) -> bool:
    """Whether every error is of a kind an older compiler may not raise."""
    return bool(result.errors) and all(
        t in OLDER_MAY_ACCEPT and not any(k in text.lower() for k in _IMPORT_FAILURES)
        for t, text in zip(result.error_types, result.errors, strict=False))


def candidate_binary(cand: Candidate) -> SolcBinary:
    """The candidate's compiler; one the plan left uninstalled is installed now (the CLI only: a
    server's plan lists installed compilers alone)."""
    if cand.path:
        return SolcBinary(Version.parse(cand.version), Path(cand.path), cand.kind)
    return SolcProvider(install=True).ensure(cand.version)


def _stack_too_deep(result: CompileResult) -> bool:
    return any("stack too deep" in e.lower() for e in result.errors)


def _unknown_evm(result: CompileResult) -> bool:
    return any("invalid evm version" in e.lower() for e in result.errors)


def _has_via_ir(version: str) -> bool:
    v = Version.parse(version)
    return (v.major, v.minor, v.patch) >= VIA_IR_SINCE


def _join(first: str, rest: str | None) -> str:
    return f"{first}; {rest}" if rest else first
