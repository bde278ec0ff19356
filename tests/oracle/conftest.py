"""A real Hardhat node per test module, on a free port, stopped afterwards."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def free_port() -> int:
    from oracle.chain.node import free_port

    return free_port()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Compiled contracts (offline Hardhat compile; a no-op when up to date)."""
    out = subprocess.run([str(ROOT / "node_modules" / ".bin" / "hardhat"), "compile", "--quiet"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return ROOT / "artifacts"


@pytest.fixture(scope="module")
def hardhat_node(tmp_path_factory, artifacts):
    from oracle.chain import node
    from oracle.config import OracleSettings

    settings = OracleSettings(chain_dir=tmp_path_factory.mktemp("chain"))
    info, started = node.start(settings, port=node.free_port())
    assert started
    try:
        yield info
    finally:
        node.stop(settings)
