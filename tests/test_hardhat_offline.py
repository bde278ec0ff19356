"""Hardhat compiles with the network unplugged (a loopback-only network namespace)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _netns_ok() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _netns_ok(), reason="unshare -n (network namespaces) not permitted here")
def test_hardhat_compile_offline(tmp_path):
    project = tmp_path / "hh"
    (project / "contracts").mkdir(parents=True)
    shutil.copy(ROOT / "hardhat.config.js", project)
    (project / "node_modules").symlink_to(ROOT / "node_modules")
    (project / "contracts" / "Counter.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\n"
        "contract Counter { uint256 public n; error TooBig(uint256 n); "
        "function inc() external { if (n > 10) revert TooBig(n); n += 1; } }\n")
    # Only loopback exists (brought up so nothing fails for a missing interface);
    # any attempt to download a compiler would fail.
    script = "ip link set lo up 2>/dev/null; ./node_modules/.bin/hardhat compile --force"
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    out = subprocess.run(["unshare", "-n", "sh", "-c", script], cwd=project, capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    artifact = json.loads((project / "artifacts/contracts/Counter.sol/Counter.json").read_text())
    assert artifact["contractName"] == "Counter"
    assert len(artifact["deployedBytecode"]) > 100
    assert any(e.get("name") == "TooBig" for e in artifact["abi"])
