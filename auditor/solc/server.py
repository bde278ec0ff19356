"""Resident solc-js compilers (`wrapper.js --serve`), one per version and process.

Loading soljson costs ~0.5 s per process and its JIT needs a few compiles to warm up;
a resident compiler compiles a typical file in 0.1-0.3 s instead of ~2 s.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path

from auditor.errors import SolcError
from auditor.solc.provider import SolcBinary


class CompileServer:
    def __init__(self, binary: SolcBinary) -> None:
        self.binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen([str(self.binary.path), "--serve"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self._proc

    def compile(self, request: dict, base: Path, include: list[Path] | None = None,
                timeout: float = 600, allow: list[Path] | None = None) -> dict:
        """Compile `request`; imports are read under `base`, then `include`, and only inside `allow`
        (default: `base`), the sandbox the wrapper enforces in its import callback."""
        line = json.dumps({"input": request, "base": str(base), "include": [str(p) for p in include or []],
                           "allow": [str(p) for p in allow or [base]]})
        with self._lock:
            proc = self._start()
            # A compile that never returns (pathological input) must not hang the audit.
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            try:
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(line.encode() + b"\n")
                proc.stdin.flush()
                header = proc.stdout.readline()
                if not header:
                    raise SolcError(self._died(timer))
                payload = proc.stdout.read(int(header))
            except (BrokenPipeError, ValueError, OSError) as exc:
                raise SolcError(self._died(timer)) from exc
            finally:
                timer.cancel()
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise SolcError(f"solc {self.binary.version} returned malformed JSON") from exc

    def _died(self, timer: threading.Timer) -> str:
        self.close()
        if timer.finished.is_set() and not timer.is_alive():
            return f"solc {self.binary.version} timed out (compile server killed)"
        return f"solc {self.binary.version} compile server exited unexpectedly"

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None


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
