"""A real `solsentry serve` for tests: it binds a free port itself (`--port 0`) and reports it in a
port file, so no other process can take the port between choosing and binding it."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from testsupport.waiting import wait_for

EXE = str(Path(sys.executable).parent / "solsentry")
_ids = itertools.count()


class Server:
    """`solsentry serve` with its data under `data` and its log beside it (not in it: a test may check
    that nothing unexpected appears in there). Not started until `start()`."""

    ENV: ClassVar[dict[str, str]] = {}        # subclasses: settings every server of theirs gets

    def __init__(self, data: Path, env: dict | None = None) -> None:
        n = next(_ids)
        self.data, self.port, self.url = data, 0, "http://127.0.0.1:0"
        self.env = {**os.environ, "SOLSENTRY_API_DATA_DIR": str(data), "SOLSENTRY_API_POLL_INTERVAL_S": "0.1",
                    **self.ENV, **(env or {})}
        self.log_path = data.parent / f"serve-{n}.log"
        self.port_file = data.parent / f"serve-{n}.port"
        self.proc: subprocess.Popen | None = None

    def key(self, name: str = "test") -> str:
        return subprocess.run([EXE, "api-key", "create", "--name", name], env=self.env, capture_output=True,
                              text=True, check=True, timeout=120).stdout.strip()

    def start(self, *args: str, timeout: float = 120) -> Server:
        """Start `serve *args` and wait for /healthz. The first start takes the port the system gives;
        a restart asks for the same one (the tests keep its URL) and appends to the log."""
        self.port_file.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:   # the child keeps its own descriptor
            # its own process group, so that stop() reaches the workers it starts too
            self.proc = subprocess.Popen([EXE, "serve", "--port", str(self.port), "--port-file", str(self.port_file),
                                          *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.port = int(wait_for(self._port, timeout, "the server to listen", fail=self._alive))
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self._healthy, timeout, "the server to answer /healthz", fail=self._alive)
        return self

    def _port(self) -> str | None:
        try:
            return self.port_file.read_text().strip() or None    # written whole (renamed into place)
        except FileNotFoundError:
            return None

    def _healthy(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.url}/healthz", timeout=5).close()
            return True
        except OSError:
            return False

    def _alive(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, \
            f"server exited {self.proc.returncode if self.proc else None}: {self.log()}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

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
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)


def servers(cls: type[Server] = Server) -> Iterator:
    """Yield a `make(data_dir, env=None) -> cls` factory; then stop every server it made, pass or fail."""
    made: list[Server] = []

    def make(data: Path, env: dict | None = None) -> Server:
        made.append(cls(data, env))
        return made[-1]

    try:
        yield make
    finally:
        for server in made:
            server.stop()
