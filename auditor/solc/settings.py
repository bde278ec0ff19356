"""Compiler settings (the project's optimizer, viaIR, evmVersion) and the compilers to try for a file.

Plain frozen data with no imports beyond the standard library: the plan builds these, they cross
into worker processes inside `Work` (as tuples of strings, so `dataclasses.asdict` keeps them
intact), and the results cache stores what was used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

# viaIR is a standard-JSON key from solc 0.7.5 on; older compilers reject it as an unknown key.
VIA_IR_SINCE = (0, 7, 5)


@dataclass(frozen=True)
class CompilerSettings:
    """What a project configures for solc; the defaults are solc's (and Hardhat's) own."""

    optimizer: bool = False
    runs: int = 200
    via_ir: bool = False
    evm_version: str | None = None

    def standard_json(self, version: str | None = None) -> dict:
        """The `settings` entries of a standard-JSON request for solc `version`."""
        out: dict = {"optimizer": {"enabled": self.optimizer, "runs": self.runs}}
        if self.via_ir and (version is None or _triple(version) >= VIA_IR_SINCE):
            out["viaIR"] = True
        if self.evm_version:
            out["evmVersion"] = self.evm_version
        return out

    def with_ir(self) -> CompilerSettings:
        """The retry for "Stack too deep": the IR pipeline with the optimizer moves variables to memory."""
        return replace(self, optimizer=True, via_ir=True)

    def without_evm_version(self) -> CompilerSettings:
        return replace(self, evm_version=None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CompilerSettings:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(**{k: data[k] for k in ("optimizer", "runs", "via_ir", "evm_version") if k in data})


@dataclass(frozen=True)
class CompilerSpec:
    """One compiler a project configures: a version (Hardhat, Foundry: exact; Truffle: maybe a range)."""

    version: str
    settings: CompilerSettings = CompilerSettings()


@dataclass(frozen=True)
class Candidate:
    """A compiler the worker may try for a file, in the plan's order."""

    version: str
    path: str = ""            # "" when not installed yet: the worker installs it (CLI only) when it gets there
    kind: str = "solc-js"
    settings: CompilerSettings = CompilerSettings()
    origin: str = ""          # why it is on the list: "hardhat.config.ts", "newest allowed", "fallback"

    def as_tuple(self) -> tuple[str, str, str, str, str]:
        return (self.version, self.path, self.kind, self.settings.to_json(), self.origin)

    @classmethod
    def from_tuple(cls, t: tuple[str, ...]) -> Candidate:
        return cls(t[0], t[1], t[2], CompilerSettings.from_json(t[3]), t[4] if len(t) > 4 else "")


def _triple(version: str) -> tuple[int, int, int]:
    parts = version.split("+")[0].split(".")
    try:
        return (int(parts[0]), int(parts[1]), int(parts[2]))
    except (IndexError, ValueError):
        return (0, 0, 0)
