"""Mythril, as a subprocess in its own virtual environment, one deployable contract at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path

from auditor.children import die_with_parent
from auditor.config import get_settings
from auditor.swc import mythril_class, mythril_confidence, mythril_severity
from auditor.tools.base import RawFinding, RawLocation, Tool, ToolOutcome, Work

LAUNCHER = Path(__file__).with_name("mythril_launcher.py")
# Past the execution timeout Mythril still solves for transaction sequences and reports;
# the hard limit leaves it this long before the process group is killed.
GRACE_S = 60


class MythrilTool(Tool):
    NAME = "mythril"
    DESCRIPTION = "Mythril symbolic executor (ConsenSys), per deployable contract, isolated environment"
    SCOPE = "contract"

    def __init__(self, execution_timeout: int | None = None, memory_mb: int | None = None) -> None:
        settings = get_settings()
        self.execution_timeout = execution_timeout or settings.mythril_timeout_s
        self.memory_mb = memory_mb or settings.mythril_memory_mb
        self.python = settings.mythril_env / "bin" / "python"
        self.home = settings.cache_dir / "mythril"

    def unavailable(self) -> str | None:
        if not self.python.is_file():
            return (f"Mythril's environment is missing ({self.python.parent.parent}); run `make` "
                    "or set SOLSENTRY_MYTHRIL_ENV")
        return None

    def version(self) -> str:
        return "unavailable" if self.unavailable() else _version(str(self.python))

    def settings_key(self) -> str:
        return f"timeout={self.execution_timeout};tx=2"

    def run(self, work: Work) -> ToolOutcome:
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=self.home, delete=False) as fh:
            json.dump({"remappings": list(work.remappings), "optimizer": {"enabled": False}}, fh)
        settings_file = Path(fh.name)
        try:
            return self._run(work, settings_file, started)
        finally:
            settings_file.unlink(missing_ok=True)

    def invoke(self, args: list[str], cwd: str | Path, solc_path: str, solc_version: str,
               limit_s: float, allow: tuple[str, ...] = ()) -> tuple[str, bytes, bytes, int | None]:
        """Run `myth ARGS` through the launcher under the time limit and memory cap.

        Returns (verdict, stdout, stderr, exit code); verdict is "done", "timeout" or "memory".
        Output goes to temporary files, not pipes, so a chatty run cannot block on a full pipe.
        """
        env = {**os.environ, "SOLC": solc_path, "SOLSENTRY_SOLC_VERSION": solc_version,
               "MYTHRIL_DIR": str(self.home), "PYTHONWARNINGS": "ignore",
               # The compiler wrapper reads imports only inside the audit's sandbox (auditor/sandbox.py).
               "SOLSENTRY_ALLOW_PATHS": ":".join(allow or (str(cwd),))}
        self.home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
            proc = subprocess.Popen([str(self.python), str(LAUNCHER), *args], cwd=cwd, env=env, stdout=out_f,
                                    stderr=err_f, stdin=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=die_with_parent())   # dies with the thread that waits for it
            verdict = _watch(proc, limit_s, self.memory_mb)
            out_f.seek(0)
            err_f.seek(0)
            return verdict, out_f.read(), err_f.read(), proc.returncode

    def _run(self, work: Work, settings_file: Path, started: float) -> ToolOutcome:
        args = ["analyze", f"{work.file}:{work.contract}", "-o", "json", "--execution-timeout",
                str(self.execution_timeout), "-t", "2", "--solc-json", str(settings_file), "--solver-timeout", "10000"]
        limit = min(work.timeout_s, self.execution_timeout + GRACE_S)
        verdict, out, err, returncode = self.invoke(args, work.root, work.solc_path, work.solc_version, limit,
                                                    work.allow)
        if verdict == "timeout":
            return ToolOutcome("timeout", message=f"killed after {limit:.0f} s",
                               duration_s=time.monotonic() - started)
        if verdict == "memory":
            return ToolOutcome("failed", message=f"killed: memory over the {self.memory_mb} MB cap",
                               duration_s=time.monotonic() - started)
        duration = time.monotonic() - started
        try:
            data = json.loads(out)
        except ValueError:
            tail = (err.decode(errors="replace").strip().splitlines() or [f"exit {returncode}"])[-1]
            if returncode and returncode < 0:
                tail = f"killed by signal {-returncode}"
            return ToolOutcome("failed", message=tail[:500], duration_s=duration)
        if not data.get("success", True) or data.get("error"):
            return ToolOutcome("failed", message=str(data.get("error"))[:500], duration_s=duration)
        return ToolOutcome("ok", [_convert(i, work) for i in data.get("issues", [])], duration_s=duration)


def _convert(issue: dict, work: Work) -> RawFinding:
    raw_id = str(issue.get("swc-id", "")).strip()
    swc, _category = mythril_class(raw_id)
    detector = swc or f"mythril-{raw_id or 'unknown'}"
    line = int(issue.get("lineno") or 0)
    filename = issue.get("filename") or work.file
    if line < 1:
        # Found in bytecode with no source line (e.g. in a compiler-generated part).
        filename, line = work.file, 1
    function = (issue.get("function") or "").split("(")[0] or None
    if function in ("fallback", "constructor", "_function_0x"):
        function = function if function != "_function_0x" else None
    return RawFinding(
        tool="mythril", detector=detector, title=issue.get("title") or detector,
        description=" ".join((issue.get("description") or "").split()),
        severity=mythril_severity(issue.get("severity", "Low")),
        confidence=mythril_confidence(raw_id),
        locations=[RawLocation(str(filename).replace(os.sep, "/"), line, line, issue.get("contract") or work.contract,
                               function)],
    )


def _watch(proc: subprocess.Popen, limit_s: float, memory_mb: int) -> str:
    """Wait for `proc`; kill its process group past the time limit or the memory cap.

    The cap is checked on the resident memory of the whole tree (Mythril and the solc it
    starts) rather than with RLIMIT_AS: solc-js is WebAssembly, and V8 reserves far more
    address space than it ever uses, so an address-space limit breaks the compiler.
    """
    import psutil

    deadline = time.monotonic() + limit_s
    try:
        parent = psutil.Process(proc.pid)
    except psutil.NoSuchProcess:
        parent = None
    while True:
        try:
            proc.wait(timeout=0.5)
            return "done"
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            _kill_group(proc)
            return "timeout"
        if parent is not None and _rss_mb(parent) > memory_mb:
            _kill_group(proc)
            return "memory"


def _rss_mb(parent) -> float:
    import psutil

    total = 0
    try:
        for p in [parent, *parent.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
    except psutil.Error:
        return 0.0
    return total / 1e6


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


@cache
def _version(python: str) -> str:
    out = subprocess.run([python, "-c", "from importlib.metadata import version; print(version('mythril'))"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or "unknown"
