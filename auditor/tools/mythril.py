"""Mythril, as a subprocess in its own virtual environment, one deployable contract (or one
bytecode target's runtime code) at a time. One output parser (`_convert`) for both."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path

from auditor.config import get_settings
from auditor.runtime import limits
from auditor.runtime.children import die_with_parent, kill_tree, killpg
from auditor.solc.settings import CompilerSettings
from auditor.swc import mythril_class, mythril_confidence, mythril_severity
from auditor.tools.base import RawFinding, RawLocation, Tool, ToolOutcome, Work
from auditor.tools.mythril_launcher import BUDGET_MARK

LAUNCHER = Path(__file__).with_name("mythril_launcher.py")
# Past the execution timeout Mythril still solves for transaction sequences and reports;
# the hard limit leaves it this long before the process group is killed.
GRACE_S = 60


class MythrilTool(Tool):
    NAME = "mythril"
    DESCRIPTION = "Mythril symbolic executor (ConsenSys), per deployable contract, isolated environment"
    SCOPE = ("contract", "bytecode")

    def __init__(self, execution_timeout: int | None = None, memory_mb: int | None = None) -> None:
        settings = get_settings()
        self.execution_timeout = execution_timeout or settings.mythril_timeout_s
        self.memory_mb = memory_mb or settings.mythril_memory_mb
        self.python = settings.mythril_env / "bin" / "python"

    def unavailable(self) -> str | None:
        if not self.python.is_file():
            return (f"Mythril's environment is missing ({self.python.parent.parent}); run `make` "
                    "or set SOLSENTRY_MYTHRIL_ENV")
        return None

    def version(self) -> str:
        return "unavailable" if self.unavailable() else _version(str(self.python))

    def settings_key(self) -> str:
        return f"timeout={self.execution_timeout};tx=2"

    def model_settings(self) -> str:
        return f"mythril_timeout={self.execution_timeout}"

    def run(self, work: Work) -> ToolOutcome:
        started = time.monotonic()
        # Mythril's home (MYTHRIL_DIR) is the run's own: it writes every function signature of the
        # sources it compiles into signatures.db there, which a shared home would carry from one
        # submitter's audit into another's bytecode report. Mythril copies its bundled database in.
        with tempfile.TemporaryDirectory(prefix="solsentry-mythril-") as tmp:
            home = Path(tmp)
            if work.bytecode:
                if not work.solc_path:        # the launcher wants one although nothing is compiled
                    return ToolOutcome("failed", message="no solc installed (Mythril's launcher needs one)",
                                       infrastructure=True)
                args = ["analyze", "--bin-runtime", "-f", work.bytecode, "-o", "json", "--execution-timeout",
                        str(self.execution_timeout), "-t", "2", "--solver-timeout", "10000", "--no-onchain-data"]
                return self._run(work, args, started, home)
            # The version (SOLC) and settings that compiled the file in the file stage: the project's
            # optimizer / viaIR / evmVersion, or the viaIR retry a "Stack too deep" file needed.
            settings = CompilerSettings.from_json(work.solc_settings).standard_json(work.solc_version)
            settings_file = home / "solc-settings.json"
            settings_file.write_text(json.dumps({"remappings": list(work.remappings), **settings}))
            args = ["analyze", f"{work.file}:{work.contract}", "-o", "json", "--execution-timeout",
                    str(self.execution_timeout), "-t", "2", "--solc-json", str(settings_file),
                    "--solver-timeout", "10000"]
            return self._run(work, args, started, home)

    def invoke(self, args: list[str], cwd: str | Path, solc_path: str, solc_version: str,
               limit_s: float, allow: tuple[str, ...] = (), home: Path | None = None
               ) -> tuple[str, bytes, bytes, int | None]:
        """Run `myth ARGS` through the launcher under the time limit and the cap on the resident
        memory of its tree (Mythril and the solc it starts; `auditor.runtime.limits`, the policy audits
        run under too).

        Returns (verdict, stdout, stderr, exit code); verdict is "done", "timeout" or "memory".
        Output goes to temporary files, not pipes, so a chatty run cannot block on a full pipe.
        """
        if home is None:
            with tempfile.TemporaryDirectory(prefix="solsentry-mythril-") as tmp:
                return self.invoke(args, cwd, solc_path, solc_version, limit_s, allow, Path(tmp))
        env = {**os.environ, "SOLC": solc_path, "SOLSENTRY_SOLC_VERSION": solc_version,
               "MYTHRIL_DIR": str(home), "PYTHONWARNINGS": "ignore",
               # The compiler wrapper reads imports only inside the audit's sandbox (auditor/sandbox.py).
               "SOLSENTRY_ALLOW_PATHS": ":".join(allow or (str(cwd),))}
        with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
            proc = subprocess.Popen([str(self.python), str(LAUNCHER), *args], cwd=cwd, env=env, stdout=out_f,
                                    stderr=err_f, stdin=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=die_with_parent())   # dies with the thread that waits for it
            try:
                verdict = limits.watch(proc.pid, lambda wait_s: _exited(proc, wait_s), limit_s, self.memory_mb)
            finally:
                if proc.returncode is None:    # not reaped: killed by the watch, or we were interrupted
                    kill_tree(proc.pid)
                    killpg(proc.pid)           # its session's group: whatever left the tree
                proc.wait()
            out_f.seek(0)
            err_f.seek(0)
            return verdict, out_f.read(), err_f.read(), proc.returncode

    def _run(self, work: Work, args: list[str], started: float, home: Path) -> ToolOutcome:
        budget_limit = self.execution_timeout + GRACE_S
        limit = min(work.timeout_s, budget_limit)
        verdict, out, err, returncode = self.invoke(args, work.root, work.solc_path, work.solc_version, limit,
                                                    work.allow, home)
        if verdict == "timeout":
            # Killed at the limit its budget sets: an outcome of the code under that budget (cached,
            # keyed by it). Killed earlier, by the caller's own limit: not (that is not in the key).
            return ToolOutcome("timeout", message=f"killed after {limit:.0f} s (execution budget "
                               f"{self.execution_timeout} s + {GRACE_S} s to report); no findings",
                               duration_s=time.monotonic() - started, infrastructure=limit < budget_limit)
        if verdict == "memory":
            return ToolOutcome("failed", message=f"killed: memory over the {self.memory_mb} MB cap",
                               duration_s=time.monotonic() - started, infrastructure=True)
        duration = time.monotonic() - started
        try:
            data = json.loads(out)
        except ValueError:
            tail = (err.decode(errors="replace").strip().splitlines() or [f"exit {returncode}"])[-1]
            if returncode and returncode < 0:
                tail = f"killed by signal {-returncode}"
            return ToolOutcome("failed", message=tail[:500], duration_s=duration, infrastructure=True)
        if not data.get("success", True) or data.get("error"):
            return ToolOutcome("failed", message=str(data.get("error"))[:500], duration_s=duration,
                               infrastructure=True)
        findings = [_convert(i, work) for i in data.get("issues", [])]
        spent = budget_spent(err, self.execution_timeout)
        if spent:
            return ToolOutcome("timeout", findings, message=spent, duration_s=duration)
        return ToolOutcome("ok", findings, duration_s=duration)


def budget_spent(stderr: bytes, execution_timeout: int) -> str | None:
    """Why Mythril's answer is partial: the launcher's note that a budget ran out (exploration
    stopped there), as the report's message; None when Mythril explored everything."""
    kinds = [line.split(BUDGET_MARK, 1)[1].strip() for line in stderr.decode(errors="replace").splitlines()
             if BUDGET_MARK in line]
    if "execution" in kinds:
        return (f"Mythril's execution budget of {execution_timeout} s ran out: exploration stopped there, "
                "the findings are partial")
    if kinds:
        return "Mythril's contract-creation budget ran out: exploration stopped there, the findings are partial"
    return None


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
    pc, contract = None, issue.get("contract") or work.contract
    if work.bytecode:               # runtime code: placed by program counter in the pseudo-file work.file
        filename, line, contract = work.file, 1, None
        try:
            pc = max(0, int(issue.get("address") or 0))
        except (TypeError, ValueError):
            pc = 0
    return RawFinding(
        tool="mythril", detector=detector, title=issue.get("title") or detector,
        description=" ".join((issue.get("description") or "").split()),
        severity=mythril_severity(issue.get("severity", "Low")),
        confidence=mythril_confidence(raw_id),
        locations=[RawLocation(str(filename).replace(os.sep, "/"), line, line, contract, function, pc)],
    )


def _exited(proc: subprocess.Popen, wait_s: float) -> bool:
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        return False
    return True


@cache
def _version(python: str) -> str:
    out = subprocess.run([python, "-c", "from importlib.metadata import version; print(version('mythril'))"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or "unknown"
