"""Solidity compilers on demand.

Native solc is used when the machine has the version (it is faster); otherwise
solc-js (the `solc` npm package's soljson.js) is installed into the per-user
cache and run through `wrapper.js`, which behaves like native solc for
`--version`, `--standard-json` and `FILE --combined-json ...`.

The cache layout and the npm mechanics: auditor/solc/installer.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from auditor.config import Settings, get_settings
from auditor.errors import PragmaError, SolcInstallError
from auditor.solc.installer import SolcJsInstaller, atomic_write
from auditor.solc.known_versions import KNOWN_VERSIONS
from auditor.solc.sources import Remapping, compilation_unit, unit_constraints
from auditor.solc.versions import Constraint, Version

log = logging.getLogger(__name__)

# The wrapper drives soljson through the modern solc-js API, which handles 0.4.1 and later
# (npm's solc@0.4.0 holds an HTML page, not a compiler).
OLDEST_SUPPORTED = Version(0, 4, 1)


@dataclass(frozen=True)
class SolcBinary:
    version: Version
    path: Path
    kind: str  # "native" or "solc-js"

    def __str__(self) -> str:
        return f"solc {self.version} ({self.kind}) at {self.path}"


class SolcProvider:
    def __init__(self, settings: Settings | None = None, install: bool = True) -> None:
        """`install=False`: use only cached compilers, never run npm (servers audit offline)."""
        self.settings = settings or get_settings()
        self.may_install = install
        self.root = self.settings.solc_dir
        self._natives: list[SolcBinary] | None = None
        # Planning asks once per file; the answers change only when this provider installs.
        self._installed: list[SolcBinary] | None = None
        self._installable: list[Version] | None = None
        self.installer = SolcJsInstaller(self.settings, self.root)

    # ---- what is here -------------------------------------------------------------------
    def installed(self) -> list[SolcBinary]:
        """Every usable compiler on this machine, newest first."""
        if self._installed is not None:
            return list(self._installed)
        found = list(self.natives())
        if self.root.is_dir():
            for d in self.root.iterdir():
                if (d / ".complete").is_file() and (d / "solc").is_file():
                    try:
                        found.append(SolcBinary(Version.parse(d.name), d / "solc", "solc-js"))
                    except PragmaError:
                        continue
        self._installed = sorted(found, key=lambda b: (b.version, b.kind == "native"), reverse=True)
        return list(self._installed)

    def natives(self) -> list[SolcBinary]:
        if self._natives is None:
            self._natives = []
            for path in _native_candidates():
                version = _native_version(path)
                if version is not None:
                    self._natives.append(SolcBinary(version, path, "native"))
        return self._natives

    def installable(self, refresh: bool = False) -> list[Version]:
        """Versions the npm registry offers (cached; a bundled list when never online)."""
        if self._installable is not None and not refresh:
            return list(self._installable)
        cache = self.root / "versions.json"
        cached = _read_json(cache)
        fresh = cached and time.time() - cached.get("fetched_at", 0) < self.settings.solc_versions_ttl_s
        names: Iterable[str] = cached["versions"] if cached else KNOWN_VERSIONS
        if (refresh or not fresh) and not self.settings.offline and self.may_install:
            try:
                out = self.installer.npm(["view", "solc", "versions", "--json"], timeout=30)
                names = json.loads(out)
                atomic_write(cache, json.dumps({"fetched_at": time.time(), "versions": names}))
            except (SolcInstallError, ValueError) as exc:
                log.debug("could not refresh solc versions from npm: %s", exc)
        versions = set()
        for name in names:
            if re.fullmatch(r"\d+\.\d+\.\d+", name):
                v = Version.parse(name)
                if v >= OLDEST_SUPPORTED:
                    versions.add(v)
        self._installable = sorted(versions, reverse=True)
        return list(self._installable)

    # ---- choosing ----------------------------------------------------------------------
    def select(self, constraints: Sequence[tuple[str, Constraint]]) -> SolcBinary:
        """The newest installed or installable compiler allowed by every (origin, constraint)."""
        installed = self.installed()
        pool = {b.version for b in installed} | set(self.installable())
        allowed = sorted((v for v in pool if all(c.allows(v) for _, c in constraints)), reverse=True)
        if not allowed:
            raise PragmaError(_impossible(constraints, pool))
        if self.settings.solc_prefer_native:
            for b in installed:
                if b.kind == "native" and b.version in allowed:
                    return b
        try:
            return self.ensure(allowed[0])
        except SolcInstallError as exc:
            usable = [b for b in installed if b.version in allowed]
            if not usable:
                raise
            log.warning("%s; using installed solc %s instead", exc, usable[0].version)
            return usable[0]

    def for_pragma(self, text: str) -> SolcBinary:
        return self.select([("pragma", Constraint.parse(text))])

    def for_files(
        self, files: Iterable[Path], remappings: Sequence[Remapping] = (), roots: Sequence[Path] = ()
    ) -> SolcBinary:
        """The compiler for the compilation unit of `files` (their imports included)."""
        unit = compilation_unit(files, remappings, roots)
        return self.select([(str(p), c) for p, c in unit_constraints(unit)])

    # ---- installing (the mechanics: auditor/solc/installer.py) --------------------------
    def ensure(self, version: Version | str) -> SolcBinary:
        version = Version.parse(str(version))
        for b in self.installed():
            if b.version == version and (b.kind == "native" or self.installer.launcher_ok(b.path)):
                self.installer.sync_wrapper()
                return b
        if not self.may_install:
            raise SolcInstallError(
                f"solc {version} is not installed on this server, and a server never installs compilers "
                f"during an audit (the operator pre-installs them: `solsentry solc install {version}`)")
        return self.install(version)

    def install(self, version: Version | str) -> SolcBinary:
        """Install solc-js `version` into the cache (idempotent, safe across processes)."""
        version = Version.parse(str(version))
        if version < OLDEST_SUPPORTED:
            raise SolcInstallError(f"solc {version} is not supported (oldest: {OLDEST_SUPPORTED})")
        known = self.installable()
        if known and version not in known:
            raise SolcInstallError(
                f"solc {version} cannot be installed: no such release on the npm registry "
                f"(known: {min(known)} to {max(known)})")
        path = self.installer.install(version)
        self._installed = None
        return SolcBinary(version, path, "solc-js")


# ---- helpers ------------------------------------------------------------------------------
def _impossible(constraints: Sequence[tuple[str, Constraint]], pool: set[Version]) -> str:
    parts = "; ".join(f"{origin}: {c.text}" for origin, c in constraints)
    span = f" (known versions {min(pool)} to {max(pool)})" if pool else ""
    return f"no solc version satisfies every pragma{span}: {parts}"


def _native_candidates() -> list[Path]:
    paths = []
    which = shutil.which("solc")
    if which:
        paths.append(Path(which))
    home = Path.home()
    paths += sorted(home.glob(".solcx/solc-v*")) + sorted(home.glob(".solc-select/artifacts/solc-*/solc-*"))
    # solc-select's `solc` shim is a Python script that downloads on use: only real binaries count.
    return [p for p in paths if _is_elf(p)]


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF" and os.access(path, os.X_OK)
    except OSError:
        return False


def _native_version(path: Path) -> Version | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"Version:\s*(\d+\.\d+\.\d+)", out)
    return Version.parse(m[1]) if m else None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
