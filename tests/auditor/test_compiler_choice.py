"""Compiler choice that compiles (issue 13, points 3 and 4): real audits with the real solc-js
compilers `make` installs (SOLC_VERSIONS), nothing downloaded, no mocks.

* a pinned project's compiler and settings win (Hardhat `solidity: {version, settings}`, foundry.toml);
* the newest allowed compiler first, then older series when the errors are ones an older compiler
  accepts (open pragmas on old syntax, no pragma), bounded, cached with the choice;
* "Stack too deep": compiled with the project's viaIR, or through the one optimizer+viaIR retry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.solc.compiler import compile_files
from auditor.solc.fallback import compile_first
from auditor.solc.provider import SolcProvider
from auditor.solc.settings import Candidate
from auditor.solc.versions import Constraint, Version

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "tests" / "fixtures" / "projects"
SOLSENTRY = Path(sys.executable).parent / "solsentry"

OLD_05 = """pragma solidity >=0.5.1;

// Written for solc 0.5: an unnamed payable fallback, and sends on msg.sender (payable before 0.8).
contract TipBox {
    mapping(address => uint256) public balances;

    function () external payable {
        balances[msg.sender] += msg.value;
    }

    function withdraw(uint256 amount) public {
        require(balances[msg.sender] >= amount);
        msg.sender.transfer(amount);
        balances[msg.sender] -= amount;
    }
}
"""
# A statement may not start with `emit` from 0.4.21 on (the event keyword): 0.4.26 rejects this
# (ParserError), 0.4.9 compiles it.
OLD_049 = """pragma solidity ^0.4.9;
contract Emitter {
    uint public count;
    function bump() public { uint emit = count; emit += 1; count = emit; }
}
"""
NO_PRAGMA_04 = """// No pragma: solc 0.4 code (a constructor named after the contract, throw).
contract Legacy {
    address owner;
    function Legacy() public { owner = msg.sender; }
    function kill() public { if (msg.sender != owner) throw; selfdestruct(owner); }
}
"""
NO_PRAGMA_08 = "contract Modern {\n    uint256 public x;\n    function set(uint256 v) external { x = v; }\n}\n"


def audit_json(target: Path, tmp: Path, *extra: str, env: dict | None = None) -> tuple[int, dict]:
    out = tmp / f"report-{len(list(tmp.glob('report-*')))}.json"
    proc = subprocess.run([str(SOLSENTRY), "audit", str(target), "--tools", "slither", "--review", "none",
                           "--format", "json", "--out", str(out), "--fail-on", "none", *extra],
                          capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
                          env={**os.environ, "SOLSENTRY_RESULTS_DIR": str(tmp / "results"), **(env or {})})
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return proc.returncode, json.loads(out.read_text())


def by_path(report: dict) -> dict[str, dict]:
    return {f["path"]: f for f in report["files"]}


@pytest.fixture(scope="module")
def old_files(tmp_path_factory):
    """One audit of a directory of single files written for older compilers, run twice (the second
    from the results cache)."""
    tmp = tmp_path_factory.mktemp("old-files")
    src = tmp / "src"
    src.mkdir()
    for name, text in {"TipBox.sol": OLD_05, "Emitter.sol": OLD_049, "Legacy.sol": NO_PRAGMA_04,
                       "Modern.sol": NO_PRAGMA_08}.items():
        (src / name).write_text(text)
    _, first = audit_json(src, tmp)
    _, second = audit_json(src, tmp)
    return first, second


def test_open_pragma_on_05_syntax_compiles_with_0517_and_is_analyzed(old_files):
    report, _ = old_files
    f = by_path(report)["TipBox.sol"]
    assert (f["status"], f["solc"]) == ("compiled", "0.5.17")
    # one try per older series, newest first: 0.8, 0.7 and 0.6 reject `function ()`, 0.5.17 compiles it
    assert f["solc_note"].startswith("fallback: solc 0.8.") and ", 0.7.6, 0.6.12 rejected" in f["solc_note"]
    assert "ParserError" in f["solc_note"]
    run = next(r for r in report["tool_runs"] if r["unit"] == "TipBox.sol")
    assert run["state"] == "ok"
    assert any(x["locations"][0]["file"] == "TipBox.sol" and x["category"] == "reentrancy" for x in report["findings"])


def test_caret_049_file_that_0426_rejects_compiles_with_the_lowest_allowed(old_files):
    f = by_path(old_files[0])["Emitter.sol"]
    assert (f["status"], f["solc"]) == ("compiled", "0.4.9")
    assert f["solc_note"] == "fallback: solc 0.4.26 rejected the file (ParserError); solc 0.4.9 compiled it"


def test_files_without_pragma_are_tried_from_the_newest_series_down(old_files):
    files = by_path(old_files[0])
    legacy, modern = files["Legacy.sol"], files["Modern.sol"]
    assert (legacy["status"], legacy["solc"]) == ("compiled", "0.4.26")
    assert ", 0.7.6, 0.6.12, 0.5.17 rejected" in legacy["solc_note"]
    assert modern["status"] == "compiled" and Version.parse(modern["solc"]) >= Version(0, 8, 30)
    assert modern["solc_note"] is None
    assert modern["compiler_settings"] == {"optimizer": False, "runs": 200, "via_ir": False, "evm_version": None}


def test_the_choice_is_cached_with_the_result(old_files):
    first, second = old_files
    assert all(r["cached"] for r in second["tool_runs"])
    keep = ("path", "solc", "solc_note", "compiler_settings", "status")
    assert [{k: f[k] for k in keep} for f in second["files"]] == [{k: f[k] for k in keep} for f in first["files"]]


def test_pinned_hardhat_project_compiles_every_file_with_its_076_and_settings(tmp_path):
    _, report = audit_json(PROJECTS / "pinned-hardhat", tmp_path, "--no-cache")
    files = by_path(report)
    assert set(files) == {"contracts/Pool.sol", "contracts/interfaces/IPool.sol", "contracts/libraries/Bitmap.sol"}
    for f in files.values():
        assert (f["status"], f["solc"], f["solc_note"]) == ("compiled", "0.7.6", None), f
        assert f["compiler_settings"] == {"optimizer": True, "runs": 800, "via_ir": False, "evm_version": None}


def test_stack_too_deep_compiles_with_the_projects_via_ir(tmp_path):
    _, report = audit_json(PROJECTS / "viair-foundry", tmp_path, "--no-cache")
    f = by_path(report)["src/Packer.sol"]
    assert f["status"] == "compiled" and f["solc_note"] is None
    assert f["compiler_settings"] == {"optimizer": True, "runs": 10000, "via_ir": True, "evm_version": "paris"}


def test_stack_too_deep_without_via_ir_compiles_through_the_retry(tmp_path):
    # FOUNDRY_PROFILE=lean turns viaIR and the optimizer off: "Stack too deep" is a code-generation
    # error, so it shows when code is generated (a contract-scope tool, Mythril, is selected): then
    # the one retry. Mythril's budget is tiny: the compile verdict is what is checked.
    lean = {"FOUNDRY_PROFILE": "lean"}
    _, report = audit_json(PROJECTS / "viair-foundry", tmp_path, "--no-cache", "--tools", "slither,mythril",
                           "--mythril-timeout", "2", env=lean)
    f = by_path(report)["src/Packer.sol"]
    assert f["status"] == "compiled"
    assert "optimizer and viaIR on" in f["solc_note"] and "Stack too deep" in f["solc_note"]
    assert f["compiler_settings"]["via_ir"] and f["compiler_settings"]["optimizer"]
    assert next(r for r in report["tool_runs"] if r["unit"] == "src/Packer.sol")["state"] == "ok"
    # Slither alone needs no code: the file compiles for analysis with the profile's settings as they are.
    _, alone = audit_json(PROJECTS / "viair-foundry", tmp_path, "--no-cache", env=lean)
    f = by_path(alone)["src/Packer.sol"]
    assert f["status"] == "compiled" and f["solc_note"] is None
    assert not f["compiler_settings"]["via_ir"]
    assert next(r for r in alone["tool_runs"] if r["unit"] == "src/Packer.sol")["state"] == "ok"


def test_hosted_audit_tries_only_installed_compilers(tmp_path, monkeypatch):
    from auditor.config import get_settings
    from auditor.pipeline import AuditOptions, audit

    candidates = _choose_offline(">=0.5.1")
    assert candidates and all(c.path and Path(c.path).is_file() for c in candidates)
    versions = [Version.parse(c.version) for c in candidates]
    series = [(v.major, v.minor) for v in versions[:-1]]
    assert versions == sorted(versions, reverse=True) and len(series) == len(set(series))   # one per series
    (tmp_path / "TipBox.sol").write_text(OLD_05)
    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(tmp_path / "results"))
    get_settings.cache_clear()
    try:
        report = audit(tmp_path / "TipBox.sol", AuditOptions(tools=("slither",), review="none", hosted=True,
                                                             use_cache=False, jobs=1))
    finally:
        get_settings.cache_clear()
    assert (report.files[0].status, report.files[0].solc) == ("compiled", "0.5.17")


def test_a_missing_import_is_not_retried_with_older_compilers(tmp_path):
    (tmp_path / "A.sol").write_text('pragma solidity >=0.5.0;\nimport "./Gone.sol";\ncontract A {}\n')
    candidates = _choose_offline(">=0.5.0")

    def compile_with(binary, settings):
        return compile_files([tmp_path / "A.sol"], tmp_path, binary=binary, settings=settings)

    compiled = compile_first(candidates, compile_with)
    assert compiled.result.errors and compiled.candidate.version == candidates[0].version
    assert compiled.note is None     # nothing else was tried: no older compiler finds a missing file


def test_a_configured_compiler_leads_and_one_the_server_lacks_is_said(tmp_path):
    from auditor.solc.choice import choose
    from auditor.solc.settings import CompilerSettings, CompilerSpec

    provider = SolcProvider(install=False)
    have = {str(b.version) for b in provider.installed()}
    if not {"0.7.6", "0.8.24"} <= have:
        pytest.skip("solc 0.7.6 and 0.8.24 are not in the compiler cache (run `make`)")
    fast = CompilerSettings(optimizer=True, runs=800)
    # Hardhat's rule: the newest configured compiler the pragmas allow (0.8.24 does not fit ^0.7.0).
    choice = choose(provider, [("a.sol", Constraint.parse("^0.7.0"))],
                    [CompilerSpec("0.8.24"), CompilerSpec("0.7.6", fast)], origin="hardhat.config.js")
    assert (choice.first.version, choice.first.settings, choice.first.origin) == ("0.7.6", fast, "hardhat.config.js")
    assert choice.note is None and all(c.settings == fast for c in choice.candidates)
    missing = next(v for v in ("0.8.2", "0.8.3", "0.8.5") if v not in have)
    choice = choose(provider, [("a.sol", Constraint.parse("^0.8.0"))], [CompilerSpec(missing)], origin="foundry.toml")
    assert choice.first.version in have and choice.first.path
    assert choice.note.startswith(f"foundry.toml configures solc {missing}")


def _choose_offline(pragma: str) -> list[Candidate]:
    from auditor.solc.choice import choose

    return choose(SolcProvider(install=False), [("pragma", Constraint.parse(pragma))]).candidates


@pytest.mark.slow
def test_mythril_compiles_with_the_version_and_settings_that_worked(tmp_path):
    from auditor.tools.mythril import MythrilTool

    if reason := MythrilTool().unavailable():
        pytest.skip(reason)
    # Packer.sol compiles only with viaIR: Mythril, which compiles the file again, must get it too.
    proc = subprocess.run([str(SOLSENTRY), "audit", str(PROJECTS / "viair-foundry"), "--tools", "mythril",
                           "--review", "none", "--format", "json", "--out", str(tmp_path / "r.json"),
                           "--fail-on", "none", "--no-cache", "--mythril-timeout", "20"],
                          capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    run = next(r for r in json.loads((tmp_path / "r.json").read_text())["tool_runs"] if r["tool"] == "mythril")
    # ok, or its budget ran out (a loaded machine): either way it compiled; a compile failure is "failed"
    assert run["state"] in ("ok", "timeout"), run
