"""Installing solc-js compilers into the per-user cache with npm (auditor/solc/provider.py decides
which version, and whether installing is allowed at all).

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
import logging
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from auditor.config import Settings
from auditor.errors import SolcInstallError
from auditor.solc.versions import Version

log = logging.getLogger(__name__)

_NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ENETUNREACH",
                   "ECONNRESET", "network", "offline")


class SolcJsInstaller:
    """npm, the launchers and the locks of the solc-js cache at `root`."""

    def __init__(self, settings: Settings, root: Path) -> None:
        self.settings = settings
        self.root = root

    def install(self, version: Version) -> Path:
        """Install solc-js `version` (already checked installable) into the cache; its launcher.
        Idempotent and safe across processes."""
        target = self.root / str(version)
        with self.lock(str(version)):
            self.sync_wrapper()
            if (target / ".complete").is_file() and self.launcher_ok(target / "solc"):
                return target / "solc"
            try:
                self.ensure_runtime()
            except SolcInstallError as exc:
                raise SolcInstallError(f"solc {version} cannot be installed: {exc}") from exc
            tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=self.root))
            try:
                self.npm(["pack", f"solc@{version}", "--pack-destination", str(tmp)],
                         what=f"solc {version}")
                tarballs = list(tmp.glob("solc-*.tgz"))
                if not tarballs:
                    raise SolcInstallError(f"solc {version} cannot be installed: npm pack produced no file")
                _extract_soljson(tarballs[0], tmp / "soljson.js", version)
                tarballs[0].unlink()
                self.write_launcher(tmp)
                got = _launcher_version(tmp / "solc")
                if got != version:
                    raise SolcInstallError(
                        f"solc {version} cannot be installed: the npm package reports version {got}")
                if target.exists():
                    shutil.rmtree(target)
                tmp.rename(target)
                # The launcher names its own directory: rewrite it for the final location,
                # and only then mark the version usable for other processes.
                self.write_launcher(target)
                (target / ".complete").write_text(str(version))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        log.info("installed solc %s (solc-js) into %s", version, target)
        return target / "solc"

    def ensure_runtime(self) -> None:
        runtime = self.root / "runtime"
        if (runtime / ".complete").is_file():
            return
        with self.lock("runtime"):
            if (runtime / ".complete").is_file():
                return
            tmp = Path(tempfile.mkdtemp(prefix=".runtime-", dir=self.root))
            try:
                self.npm(["install", "--prefix", str(tmp), "--no-save", "--no-package-lock",
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

    def sync_wrapper(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        source = resources.files("auditor.solc").joinpath("wrapper.js").read_text()
        dest = self.root / "wrapper.js"
        if not dest.is_file() or dest.read_text() != source:
            atomic_write(dest, source)

    def write_launcher(self, version_dir: Path) -> None:
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

    def launcher_ok(self, launcher: Path) -> bool:
        """A launcher whose node binary vanished (Node upgraded) is rewritten on next use."""
        try:
            node = shlex.split(launcher.read_text().splitlines()[-1])[1]
        except (OSError, IndexError, ValueError):
            return False
        if Path(node).is_file():
            return True
        try:
            self.write_launcher(launcher.parent)
        except SolcInstallError:
            return False
        return True

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{name}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def npm(self, args: list[str], what: str = "", timeout: int | None = None) -> str:
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


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
