"""Resident solc-js compilers (`wrapper.js --serve`), one per version and process.

Loading soljson costs ~0.5 s per process and its JIT needs a few compiles to warm up;
a resident compiler compiles a typical file in 0.1-0.3 s instead of ~2 s.
"""

from __future__ import annotations

import atexit
import json
import logging
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path

from auditor.errors import SolcError
from auditor.solc.provider import SolcBinary

log = logging.getLogger(__name__)


class _Died(Exception):
    """The compile server went away during a compile; `timed_out`: our own timer killed it."""

    def __init__(self, timed_out: bool) -> None:
        self.timed_out = timed_out


class CompileServer:
    def __init__(self, binary: SolcBinary) -> None:
        self.binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the compiler now (it loads soljson while the caller does something else)."""
        with self._lock:
            self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen([str(self.binary.path), "--serve"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self._proc

    def compile(self, request: dict, base: Path, include: list[Path] | None = None,
                timeout: float = 600, allow: list[Path] | None = None) -> dict:
        """Compile `request`; imports are read under `base`, then `include`, and only inside `allow`
        (default: `base`), the sandbox the wrapper enforces in its import callback.

        A server that dies during the compile (killed, out of memory, crashed) is started again and
        the compile retried once; one killed for running past `timeout` is not (it would again)."""
        line = json.dumps({"input": request, "base": str(base), "include": [str(p) for p in include or []],
                           "allow": [str(p) for p in allow or [base]]}).encode() + b"\n"
        with self._lock:
            try:
                payload = self._exchange(line, timeout)
            except _Died as died:
                if died.timed_out:
                    raise SolcError(f"solc {self.binary.version} timed out (compile server killed)") from None
                log.warning("solc %s compile server exited unexpectedly; restarting it and compiling again",
                            self.binary.version)
                try:
                    payload = self._exchange(line, timeout)
                except _Died as again:
                    what = "timed out (compile server killed)" if again.timed_out else "compile server exited " \
                        "unexpectedly (twice: restarted once)"
                    raise SolcError(f"solc {self.binary.version} {what}") from None
            try:
                answer = json.loads(payload)
            except ValueError as exc:
                raise SolcError(f"solc {self.binary.version} returned malformed JSON") from exc
            return self._checked(answer, line, timeout)

    def _checked(self, answer: dict, line: bytes, timeout: float) -> dict:
        """A JavaScript exception inside soljson (a stack overflow on a pathological input) can leave
        the module broken for every later compile in this process ("Uncaught exception" internal
        errors on valid code): such an answer is no verdict on the code. The compiler is replaced
        and the compile retried once on the fresh one; the same failure again raises SolcError
        (an infrastructure failure: never cached as the file's compile errors)."""
        why = broken(answer)
        if why is None:
            return answer
        log.warning("solc %s failed internally (%s); compiling again on a fresh compiler", self.binary.version, why)
        self.close()
        try:
            again = json.loads(self._exchange(line, timeout))
        except (_Died, ValueError):
            self.close()
            raise SolcError(f"solc {self.binary.version} failed internally on this input: {why}") from None
        why = broken(again)
        if why is not None:
            self.close()
            raise SolcError(f"solc {self.binary.version} failed internally on this input: {why}")
        return again

    def _exchange(self, line: bytes, timeout: float) -> bytes:
        """One request and its answer on the (started) server; _Died when it goes away meanwhile."""
        proc = self._start()
        expired = threading.Event()       # set before the kill: whoever sees the death sees why

        def expire() -> None:
            expired.set()
            proc.kill()

        # A compile that never returns (pathological input) must not hang the audit.
        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(line)
            proc.stdin.flush()
            header = proc.stdout.readline()
            if not header:
                raise _Died(self._dead(expired))
            payload = proc.stdout.read(int(header))
            if len(payload) < int(header):          # died while writing the answer
                raise _Died(self._dead(expired))
            return payload
        except (BrokenPipeError, ValueError, OSError):
            raise _Died(self._dead(expired)) from None
        finally:
            timer.cancel()

    def _dead(self, expired: threading.Event) -> bool:
        """Close the dead server; whether the compile's time limit is what killed it."""
        self.close()
        return expired.is_set()

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None


BROKEN_MARKS = ("Uncaught exception", "Maximum call stack size exceeded")


def broken(answer: dict) -> str | None:
    """The message of an error that says the compiler itself failed (not the code), or None."""
    for error in answer.get("errors") or []:
        if not isinstance(error, dict):
            continue
        message = str(error.get("message") or error.get("formattedMessage") or "")
        if error.get("type") == "SolSentryWrapperError" or any(m in message for m in BROKEN_MARKS):
            return message.strip().splitlines()[0][:300] if message.strip() else str(error.get("type"))
    return None


class CompilerPool:
    """At most `size` resident compilers per process (each holds ~100-300 MB)."""

    def __init__(self, size: int = 3) -> None:
        self.size = size
        self._servers: OrderedDict[Path, CompileServer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, binary: SolcBinary) -> CompileServer:
        with self._lock:
            server = self._servers.pop(binary.path, None) or CompileServer(binary)
            self._servers[binary.path] = server
            while len(self._servers) > self.size:
                _, old = self._servers.popitem(last=False)
                old.close()
            return server

    def close(self) -> None:
        with self._lock:
            for server in self._servers.values():
                server.close()
            self._servers.clear()


_POOL: CompilerPool | None = None


def pool() -> CompilerPool:
    global _POOL
    if _POOL is None:
        _POOL = CompilerPool()
        atexit.register(_POOL.close)
    return _POOL
