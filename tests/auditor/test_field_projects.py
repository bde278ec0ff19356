"""The field corpus (../shared/field: solmate — Foundry, Uniswap v2-core — solc 0.5, Aave v3-core —
Hardhat): real projects audit to a verdict (exit 0 or 1), never "could not analyze" (2), and every
own file compiles, with the compiler the project configures where it configures one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIELD = ROOT / ".." / "shared" / "field"
SOLSENTRY = Path(sys.executable).parent / "solsentry"
# The compiler each project pins (foundry.toml solc, hardhat.config.ts solidity.version), when it does.
PINNED = {"solmate": "0.8.15", "aave-v3-core": "0.8.10"}


def _projects() -> list[str]:
    return sorted(p.name for p in FIELD.iterdir() if p.is_dir()) if FIELD.is_dir() else []


@pytest.mark.slow
@pytest.mark.parametrize("name", _projects() or ["(none)"])
def test_field_project_audits_and_every_own_file_compiles(name, tmp_path):
    if name == "(none)":
        pytest.skip(f"the field corpus is not on this machine ({FIELD.resolve()} is missing)")
    out = tmp_path / "report.json"
    proc = subprocess.run([str(SOLSENTRY), "audit", str(FIELD / name), "--tools", "slither", "--review", "none",
                           "--format", "json", "--out", str(out)], capture_output=True, text=True, timeout=1800,
                          stdin=subprocess.DEVNULL, env={**os.environ, "SOLSENTRY_RESULTS_DIR": str(tmp_path / "r")})
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(out.read_text())
    own = [f for f in report["files"] if not f["dependency"]]
    assert own
    broken = {f["path"]: f["error"] for f in own if f["status"] != "compiled"}
    assert not broken, broken
    if name in PINNED:
        assert {f["solc"] for f in own} == {PINNED[name]}
