"""`solsentry audit` end to end: real Slither runs on the examples and the fixture projects,
every report format validated, exit codes, and bad input that must fail cleanly (exit 2)."""

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "tests" / "fixtures" / "projects"


@pytest.fixture
def isolated(tmp_path):
    """A private result cache, so each test really analyzes."""
    return {"SOLSENTRY_RESULTS_DIR": str(tmp_path / "results")}


def _no_traceback(proc):
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("target", ["examples", "tests/fixtures/projects/hardhat-app",
                                    "tests/fixtures/projects/foundry-app"])
def test_all_four_formats(solsentry, tmp_path, isolated, validate_report, validate_sarif, target):
    outs = {fmt: tmp_path / f"report.{ext}" for fmt, ext in
            (("json", "json"), ("sarif", "sarif"), ("md", "md"), ("html", "html"))}
    for fmt, out in outs.items():
        proc = solsentry("audit", target, "--tools", "slither", "--format", fmt, "--out", str(out),
                         "--fail-on", "none", env=isolated)
        assert proc.returncode == 0, proc.stderr
        _no_traceback(proc)
    report = json.loads(outs["json"].read_text())
    validate_report(report)
    sarif = json.loads(outs["sarif"].read_text())
    validate_sarif(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == len(report["findings"]) > 0
    for r in results:
        assert {"swc", "category", "severity", "tools"} <= set(r["properties"])
        region = r["locations"][0]["physicalLocation"]["region"]
        assert 1 <= region["startLine"] <= region["endLine"]
        assert not r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("/")
    html = outs["html"].read_text()
    assert 'id="findings"' in html and html.count('class="finding ') == len(report["findings"])
    assert "| " in outs["md"].read_text()
    # Findings are in the target's own sources only (dependencies are compiled, not reported).
    for f in report["findings"]:
        assert not f["locations"][0]["file"].startswith(("node_modules", "lib/"))


def test_hardhat_project_finds_reentrancy_and_skips_dependency(solsentry, isolated, tmp_path):
    out = tmp_path / "r.json"
    proc = solsentry("audit", str(PROJECTS / "hardhat-app"), "--tools", "slither", "--out", str(out),
                     "--fail-on", "none", env=isolated)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["target_kind"] == "hardhat"
    reentrancy = [f for f in report["findings"] if f["category"] == "reentrancy"]
    assert reentrancy and reentrancy[0]["locations"][0]["file"] == "contracts/EtherBank.sol"
    deps = [f for f in report["files"] if f["dependency"]]
    assert any(f["path"].startswith("node_modules/@acme/") for f in deps)
    proc = solsentry("audit", str(PROJECTS / "hardhat-app"), "--tools", "slither", "--out", str(out),
                     "--fail-on", "none", "--include-dependencies", env=isolated)
    with_deps = json.loads(out.read_text())
    assert len(with_deps["findings"]) >= len(report["findings"])


def test_fail_on_levels_and_exit_codes(solsentry, isolated):
    args = ("audit", "examples/EtherBank.sol", "--tools", "slither", "-q")
    assert solsentry(*args, "--fail-on", "high", env=isolated).returncode == 1   # reentrancy is high
    assert solsentry(*args, "--fail-on", "none", env=isolated).returncode == 0
    clean = solsentry("audit", "tests/fixtures/solidity/v05/Registry05.sol", "--tools", "slither", "-q",
                      "--fail-on", "medium", env=isolated)
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_unchanged_rerun_comes_from_the_cache(isolated, monkeypatch):
    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", isolated["SOLSENTRY_RESULTS_DIR"])
    from auditor.config import get_settings
    from auditor.pipeline import AuditOptions, audit

    get_settings.cache_clear()
    try:
        first = audit(ROOT / "examples", AuditOptions(tools=("slither",)))
        second = audit(ROOT / "examples", AuditOptions(tools=("slither",)))
    finally:
        get_settings.cache_clear()
    assert not any(r.cached for r in first.tool_runs)
    assert all(r.cached for r in second.tool_runs)
    assert [f.id for f in first.findings] == [f.id for f in second.findings]
    assert second.duration_s < first.duration_s


def test_tools_option_validation(solsentry):
    proc = solsentry("audit", "examples", "--tools", "slither,oyente")
    assert proc.returncode == 2 and "unknown tool oyente" in proc.stderr
    _no_traceback(proc)


# ---- bad input: a clear message and exit 2, never a traceback ----------------------------------
def test_path_that_does_not_exist(solsentry):
    proc = solsentry("audit", "no/such/contracts")
    assert proc.returncode == 2 and "no/such/contracts" in proc.stderr
    _no_traceback(proc)


def test_non_solidity_file(solsentry, tmp_path):
    (tmp_path / "README.md").write_text("# hello")
    proc = solsentry("audit", str(tmp_path / "README.md"))
    assert proc.returncode == 2 and "not a Solidity" in proc.stderr
    _no_traceback(proc)


def test_empty_directory(solsentry, tmp_path):
    (tmp_path / "empty").mkdir()
    proc = solsentry("audit", str(tmp_path / "empty"))
    assert proc.returncode == 2 and "no Solidity files" in proc.stderr
    _no_traceback(proc)


def test_syntax_error(solsentry, tmp_path, isolated):
    (tmp_path / "Bad.sol").write_text("pragma solidity ^0.8.0;\ncontract Bad { function f( { }\n")
    proc = solsentry("audit", str(tmp_path / "Bad.sol"), "--tools", "slither", env=isolated)
    assert proc.returncode == 2
    assert "nothing could be analyzed" in proc.stderr and "Bad.sol" in proc.stderr
    assert "ParserError" in proc.stderr
    _no_traceback(proc)


def test_generated_5mb_contract(solsentry, tmp_path, isolated):
    body = "\n".join(f"    function f{i}() public pure returns (uint256) {{ return {i}; }}" for i in range(80_000))
    big = tmp_path / "Huge.sol"
    big.write_text(f"pragma solidity ^0.8.0;\ncontract Huge {{\n{body}\n}}\n")
    assert big.stat().st_size > 5_000_000
    proc = solsentry("audit", str(big), "--tools", "slither", env=isolated, timeout=120)
    assert proc.returncode == 2
    assert "over the 2.0 MB limit" in proc.stderr
    _no_traceback(proc)


def test_symlink_loop(solsentry, tmp_path, isolated):
    project = tmp_path / "loop"
    (project / "src").mkdir(parents=True)
    (project / "src" / "A.sol").write_text("pragma solidity ^0.8.0;\ncontract A { uint256 public x; }\n")
    os.symlink(project, project / "src" / "again")
    proc = solsentry("audit", str(project), "--tools", "slither", "--fail-on", "none", env=isolated, timeout=120)
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)


def test_symlink_loop_only(solsentry, tmp_path):
    d = tmp_path / "only-loop"
    d.mkdir()
    os.symlink(d, d / "self")
    proc = solsentry("audit", str(d), timeout=60)
    assert proc.returncode == 2 and "no Solidity files" in proc.stderr
    _no_traceback(proc)
