"""A bytecode target: deployed runtime code, with no source. Optionally the address it was read
from and the chain's id, recorded in the report (`Report.bytecode`). The tools whose SCOPE
includes "bytecode" run on it, one unit named `UNIT`; findings are placed by program counter
(`Location.pc`) in the pseudo-file `UNIT`, since bytecode has no source lines."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import TargetError
from auditor.tools.base import Work

UNIT = "runtime"
HEX_FILE = "runtime.hex"


@dataclass(frozen=True)
class BytecodeTarget:
    code: bytes
    address: str | None = None      # "0x..." (checksummed by the caller), where the code was read
    chain_id: int | None = None
    kind = "bytecode"

    def __post_init__(self) -> None:
        if not self.code:
            raise TargetError("no runtime code given")

    @classmethod
    def from_hex(cls, text: str, address: str | None = None, chain_id: int | None = None) -> BytecodeTarget:
        body = text.strip().removeprefix("0x")
        try:
            return cls(bytes.fromhex(body), address, chain_id)
        except ValueError:
            raise TargetError("the runtime code is not hexadecimal") from None

    @property
    def name(self) -> str:
        """What the report's `target` says: the address, else the unit."""
        return self.address or UNIT

    @property
    def codehash(self) -> str:
        """keccak256 of the code, "0x"-prefixed (as EXTCODEHASH gives it)."""
        from eth_utils import keccak

        return "0x" + keccak(self.code).hex()

    def sha256(self) -> str:
        return hashlib.sha256(self.code).hexdigest()

    def work(self, root: Path, install: bool = False) -> Work:
        """Write the code as hex under `root` and describe it for the tools. Some tools (Mythril's
        launcher) want a compiler although nothing is compiled: the newest installed one, if any."""
        from auditor.solc.provider import SolcProvider

        (root / HEX_FILE).write_text(self.code.hex(), encoding="ascii")
        compilers = SolcProvider(install=install).installed()
        first = compilers[0] if compilers else None
        return Work(root=str(root), file=UNIT, unit=(), bytecode=HEX_FILE,
                    solc_path=str(first.path) if first else "", solc_version=str(first.version) if first else "",
                    solc_kind=first.kind if first else "")
