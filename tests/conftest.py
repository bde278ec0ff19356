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
