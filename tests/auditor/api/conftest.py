"""A real `solsentry serve` for the tests of the HTTP service: `make_server(data_dir, env=None)` gives one, not started.

Test modules cannot import from here (pytest's importlib import mode), so the fixtures are the way in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from oracle.chain.node import free_port

EXE = str(Path(sys.executable).parent / "solsentry")


class Server:
    """`solsentry serve` on a free port, with its data under `data` and its log beside it."""

    def __init__(self, data: Path, env: dict | None = None) -> None:
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SOLSENTRY_API_DATA_DIR": str(data), "SOLSENTRY_API_POLL_INTERVAL_S": "0.1",
                    **(env or {})}
        # beside the data dir, not in it: a test may check that nothing unexpected appears in there
        self.log_path = data.parent / f"serve-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def key(self, name: str = "test") -> str:
        return subprocess.run([EXE, "api-key", "create", "--name", name], env=self.env, capture_output=True,
                              text=True, check=True, timeout=60).stdout.strip()

    def start(self, *args: str, timeout: float = 60) -> Server:
        """Start `serve *args` and wait for /healthz; a restart keeps the port and appends to the log."""
        with open(self.log_path, "ab") as log:   # the child keeps its own descriptor
            # its own process group, so that stop() reaches the workers it starts too
            self.proc = subprocess.Popen([EXE, "serve", "--port", str(self.port), *args], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1).close()
                return self
            except OSError:
                assert self.proc.poll() is None, f"server exited {self.proc.returncode}: {self.log()}"
                assert time.monotonic() < deadline, f"server did not start in {timeout} s: {self.log()}"
                time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(60)                 # the Ray executor takes a while to shut down
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)

    def call(self, method: str, path: str, body: bytes | None = None, key: str | None = None,
             ctype: str = "application/json", accept: str | None = None) -> tuple[int, bytes, dict]:
        """(status, body, headers); an error status is returned, not raised."""
        headers = {"Content-Type": ctype} if body is not None else {}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if accept:
            headers["Accept"] = accept
        req = urllib.request.Request(self.url + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)


def _servers() -> Iterator:
    """Yield a `make(data_dir, env=None) -> Server` factory; then stop every server it made, pass or fail."""
    made: list[Server] = []

    def make(data: Path, env: dict | None = None) -> Server:
        made.append(Server(data, env))
        return made[-1]

    try:
        yield make
    finally:
        for server in made:
            server.stop()


@pytest.fixture
def make_server():
    yield from _servers()


@pytest.fixture(scope="module")
def make_module_server():
    """make_server for a module-scoped fixture (one audit that a module's tests share)."""
    yield from _servers()
