"""Solidity compilers on demand.

Native solc is used when the machine has the version (it is faster); otherwise
solc-js (the `solc` npm package's soljson.js) is installed into the per-user
cache and run through `wrapper.js`, which behaves like native solc for
`--version`, `--standard-json` and `FILE --combined-json ...`.

Cache layout (``<cache_dir>/solc``)::

    wrapper.js            the native-solc look-alike (copied from this package)
    runtime/              `npm install solc@<runtime>`: the solc-js API that drives any soljson
    <version>/soljson.js  the compiler itself, from `npm pack solc@<version>`
    <version>/solc        executable launcher: node wrapper.js <version dir> "$@"
    versions.json         installable versions as last read from the registry
    .locks/               one lock file per install, so concurrent audits install once
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from auditor.config import Settings, get_settings
from auditor.errors import PragmaError, SolcInstallError
from auditor.solc.known_versions import KNOWN_VERSIONS
from auditor.solc.sources import Remapping, compilation_unit, unit_constraints
from auditor.solc.versions import Constraint, Version

log = logging.getLogger(__name__)

# The wrapper drives soljson through the modern solc-js API, which handles 0.4.1 and later
# (npm's solc@0.4.0 holds an HTML page, not a compiler).
OLDEST_SUPPORTED = Version(0, 4, 1)
_NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ENETUNREACH",
                   "ECONNRESET", "network", "offline")


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

    # ---- what is here -------------------------------------------------------------------
    def installed(self) -> list[SolcBinary]:
        """Every usable compiler on this machine, newest first."""
        found = list(self.natives())
        if self.root.is_dir():
            for d in self.root.iterdir():
                if (d / ".complete").is_file() and (d / "solc").is_file():
                    try:
                        found.append(SolcBinary(Version.parse(d.name), d / "solc", "solc-js"))
                    except PragmaError:
                        continue
        return sorted(found, key=lambda b: (b.version, b.kind == "native"), reverse=True)

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
        cache = self.root / "versions.json"
        cached = _read_json(cache)
        fresh = cached and time.time() - cached.get("fetched_at", 0) < self.settings.solc_versions_ttl_s
        names: Iterable[str] = cached["versions"] if cached else KNOWN_VERSIONS
        if (refresh or not fresh) and not self.settings.offline and self.may_install:
            try:
                out = self._npm(["view", "solc", "versions", "--json"], timeout=30)
                names = json.loads(out)
                _atomic_write(cache, json.dumps({"fetched_at": time.time(), "versions": names}))
            except (SolcInstallError, ValueError) as exc:
                log.debug("could not refresh solc versions from npm: %s", exc)
        versions = set()
        for name in names:
            if re.fullmatch(r"\d+\.\d+\.\d+", name):
                v = Version.parse(name)
                if v >= OLDEST_SUPPORTED:
                    versions.add(v)
        return sorted(versions, reverse=True)

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

    # ---- installing --------------------------------------------------------------------
    def ensure(self, version: Version | str) -> SolcBinary:
        version = Version.parse(str(version))
        for b in self.installed():
            if b.version == version and (b.kind == "native" or self._launcher_ok(b.path)):
                self._sync_wrapper()
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
        target = self.root / str(version)
        with self._lock(str(version)):
            self._sync_wrapper()
            if (target / ".complete").is_file() and self._launcher_ok(target / "solc"):
                return SolcBinary(version, target / "solc", "solc-js")
            try:
                self._ensure_runtime()
            except SolcInstallError as exc:
                raise SolcInstallError(f"solc {version} cannot be installed: {exc}") from exc
            tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=self.root))
            try:
                self._npm(["pack", f"solc@{version}", "--pack-destination", str(tmp)],
                          what=f"solc {version}")
                tarballs = list(tmp.glob("solc-*.tgz"))
                if not tarballs:
                    raise SolcInstallError(f"solc {version} cannot be installed: npm pack produced no file")
                _extract_soljson(tarballs[0], tmp / "soljson.js", version)
                tarballs[0].unlink()
                self._write_launcher(tmp)
                got = _launcher_version(tmp / "solc")
                if got != version:
                    raise SolcInstallError(
                        f"solc {version} cannot be installed: the npm package reports version {got}")
                if target.exists():
                    shutil.rmtree(target)
                tmp.rename(target)
                # The launcher names its own directory: rewrite it for the final location,
                # and only then mark the version usable for other processes.
                self._write_launcher(target)
                (target / ".complete").write_text(str(version))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        log.info("installed solc %s (solc-js) into %s", version, target)
        return SolcBinary(version, target / "solc", "solc-js")

    def _ensure_runtime(self) -> None:
        runtime = self.root / "runtime"
        if (runtime / ".complete").is_file():
            return
        with self._lock("runtime"):
            if (runtime / ".complete").is_file():
                return
            tmp = Path(tempfile.mkdtemp(prefix=".runtime-", dir=self.root))
            try:
                self._npm(["install", "--prefix", str(tmp), "--no-save", "--no-package-lock",
                           "--ignore-scripts", f"solc@{self.settings.solc_runtime_version}"],
                          what=f"the solc-js runtime (solc@{self.settings.solc_runtime_version})")
                if not (tmp / "node_modules" / "solc" / "wrapper.js").is_file():
                    raise SolcInstallError("the solc-js runtime install has no wrapper.js")
                (tmp / ".complete").write_text(self.settings.solc_runtime_version)
                if runtime.exists():
                    shutil.rmtree(runtime)
                tmp.rename(runtime)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def _sync_wrapper(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        source = resources.files("auditor.solc").joinpath("wrapper.js").read_text()
        dest = self.root / "wrapper.js"
        if not dest.is_file() or dest.read_text() != source:
            _atomic_write(dest, source)

    def _write_launcher(self, version_dir: Path) -> None:
        node = shutil.which(self.settings.node)
        if node is None:
            raise SolcInstallError(f"solc-js needs Node.js, and `{self.settings.node}` is not on PATH")
        script = (
            "#!/bin/sh\n# solc-js behind SolSentry's native-solc wrapper\n"
            f"exec {shlex.quote(node)} {shlex.quote(str(self.root / 'wrapper.js'))} "
            f"{shlex.quote(str(version_dir))} \"$@\"\n"
        )
        launcher = version_dir / "solc"
        launcher.write_text(script)
        launcher.chmod(0o755)

    def _launcher_ok(self, launcher: Path) -> bool:
        """A launcher whose node binary vanished (Node upgraded) is rewritten on next use."""
        try:
            node = shlex.split(launcher.read_text().splitlines()[-1])[1]
        except (OSError, IndexError, ValueError):
            return False
        if Path(node).is_file():
            return True
        try:
            self._write_launcher(launcher.parent)
        except SolcInstallError:
            return False
        return True

    @contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{name}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _npm(self, args: list[str], what: str = "", timeout: int | None = None) -> str:
        what = what or "npm " + " ".join(args)
        if self.settings.offline:
            raise SolcInstallError(f"{what} cannot be installed: offline mode (SOLSENTRY_OFFLINE) is on")
        npm = shutil.which(self.settings.npm)
        if npm is None:
            raise SolcInstallError(f"{what} cannot be installed: npm is not on PATH")
        env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false",
               "npm_config_audit": "false"}
        cmd = [npm, *args, "--loglevel=error", "--prefer-offline", "--fetch-retries=1", "--fetch-timeout=30000"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                  timeout=timeout or self.settings.npm_timeout_s, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise SolcInstallError(f"{what} cannot be installed: npm timed out after {exc.timeout} s") from exc
        if proc.returncode != 0:
            err = proc.stderr + proc.stdout
            if "E404" in err or "No matching version" in err or "ETARGET" in err:
                reason = "the npm registry has no such version"
            elif any(k in err for k in _NETWORK_ERRORS):
                reason = "the npm registry cannot be reached (offline?) and npm's cache does not have it"
            else:
                reason = "npm failed: " + (err.strip().splitlines() or ["(no output)"])[-1]
            raise SolcInstallError(f"{what} cannot be installed: {reason}")
        return proc.stdout


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


def _launcher_version(launcher: Path) -> Version | None:
    try:
        proc = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SolcInstallError(f"the installed compiler at {launcher} does not run: {exc}") from exc
    m = re.search(r"Version:\s*(\d+\.\d+\.\d+)", proc.stdout)
    if not m:
        detail = (proc.stderr.strip().splitlines() or ["no version printed"])[-1]
        raise SolcInstallError(f"the installed compiler at {launcher} does not run: {detail}")
    return Version.parse(m[1])


def _extract_soljson(tarball: Path, dest: Path, version: Version) -> None:
    try:
        with tarfile.open(tarball) as tar:
            member = tar.extractfile("package/soljson.js")
            if member is None:
                raise KeyError("package/soljson.js")
            data = member.read()
    except (KeyError, tarfile.TarError) as exc:
        raise SolcInstallError(f"solc {version} cannot be installed: its npm package has no soljson.js") from exc
    if data.lstrip()[:1] == b"<":
        raise SolcInstallError(f"solc {version} cannot be installed: its npm package holds no compiler")
    dest.write_bytes(data)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
