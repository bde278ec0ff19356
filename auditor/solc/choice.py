"""The compilers to try for one file, in order (docs/architecture.md, "Choosing a version").

1. The compiler the project configures for the file (Hardhat `solidity`, Foundry `solc`, Truffle
   `compilers.solc.version`), when the file's pragmas allow it: the project's choice wins.
2. The newest version every pragma allows (`SolcProvider.select`).
3. Fallbacks, for source an older compiler accepts but a newer one rejects (`>=0.5.1` on 0.5
   syntax, no pragma at all): the newest release of each older minor series the pragmas allow,
   newest first, then the lowest allowed version.

Only the first candidate is installed here; the worker installs a later one only if it gets to
it (auditor/solc/fallback.py). Without installing (servers), only cached compilers are listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.errors import PragmaError, SolcInstallError
from auditor.solc.provider import SolcBinary, SolcProvider
from auditor.solc.settings import Candidate, CompilerSettings, CompilerSpec
from auditor.solc.versions import Constraint, Version


@dataclass
class Choice:
    candidates: list[Candidate]
    note: str | None = None                     # why the project's configured compiler was not used

    @property
    def first(self) -> Candidate:
        return self.candidates[0]

    def key(self) -> str:
        """What the compile result depends on (part of the results cache key)."""
        return "|".join(f"{c.version}/{c.settings.to_json()}" for c in self.candidates)


def choose(provider: SolcProvider, constraints: Sequence[tuple[str, Constraint]],
           specs: Sequence[CompilerSpec] = (), default: CompilerSettings | None = None,
           origin: str = "", prefer: Version | None = None) -> Choice:
    """The ordered candidates for a unit with `constraints`; `specs`: the project's compilers for the
    file, preferred in order (Hardhat: newest first). Raises PragmaError / SolcInstallError when no
    compiler at all can be had (the file's error)."""
    installed = provider.installed()
    binaries = _by_version(installed)
    pool = set(binaries)
    if provider.may_install:
        pool |= set(provider.installable())
    allowed = sorted((v for v in pool if all(c.allows(v) for _, c in constraints)), reverse=True)
    out: list[Candidate] = []
    note = None
    settings = default or CompilerSettings()
    for spec in specs:
        pinned = _pinned(spec, allowed)
        if pinned is None:
            continue
        try:
            binary = binaries.get(pinned) or provider.ensure(pinned)
        except SolcInstallError as exc:
            note = f"{origin} configures solc {pinned}, which could not be used ({exc})"
            break
        settings = spec.settings
        out.append(_candidate(binary, settings, origin))
        break
    else:
        if specs:
            wanted = ", ".join(s.version for s in specs)
            where = "the installed compilers" if not provider.may_install else "the known releases"
            note = f"{origin} configures solc {wanted}, which the pragmas do not allow (or not among {where})"
    if out:
        if allowed:
            out.append(_lazy(allowed[0], binaries, settings, "newest allowed"))
    else:
        if prefer is not None and prefer in allowed and prefer in binaries:
            out.append(_candidate(binaries[prefer], settings, "the version most of the project compiles with"))
            out.append(_lazy(allowed[0], binaries, settings, "newest allowed"))
        else:
            out.append(_candidate(provider.select(constraints), settings, "newest allowed"))
    newest = Version.parse(out[-1].version)
    seen_series = {(newest.major, newest.minor)}
    for v in allowed:   # newest first: the first of each series is its newest release
        if (v.major, v.minor) not in seen_series and v < newest:
            seen_series.add((v.major, v.minor))
            out.append(_lazy(v, binaries, settings, "fallback"))
    if allowed:
        out.append(_lazy(allowed[-1], binaries, settings, "fallback (lowest allowed)"))
    return Choice(_dedupe(out), note)


def _pinned(spec: CompilerSpec, allowed: list[Version]) -> Version | None:
    try:
        wanted = Constraint.parse(spec.version)
    except PragmaError:
        return None
    return next((v for v in allowed if wanted.allows(v)), None)


def _by_version(installed: list[SolcBinary]) -> dict[Version, SolcBinary]:
    out: dict[Version, SolcBinary] = {}
    for b in installed:   # native before solc-js of the same version, as SolcProvider.ensure does
        out.setdefault(b.version, b)
    return out


def _candidate(binary: SolcBinary, settings: CompilerSettings, origin: str) -> Candidate:
    return Candidate(str(binary.version), str(binary.path), binary.kind, settings, origin)


def _lazy(v: Version, binaries: dict[Version, SolcBinary], settings: CompilerSettings, origin: str) -> Candidate:
    b = binaries.get(v)
    return _candidate(b, settings, origin) if b else Candidate(str(v), "", "solc-js", settings, origin)


def _dedupe(candidates: list[Candidate]) -> list[Candidate]:
    out: list[Candidate] = []
    for c in candidates:
        if all(o.version != c.version for o in out):
            out.append(c)
    return out
