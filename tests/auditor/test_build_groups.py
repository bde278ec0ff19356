"""Build groups (auditor/build.py, auditor/group_stage.py): a project's files compiled and analyzed
together, a broken file split out without costing the others their analysis, per-file results
re-used after an edit, and an unchanged re-run answered from the report memo. Real solc-js, real
Slither, real CLI runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from auditor.plan import plan
from auditor.targets import load_target
from auditor.tools.slither import SlitherTool

SOLSENTRY = Path(sys.executable).parent / "solsentry"

BASE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract Base {
    mapping(address => uint256) public balances;
    function deposit() external payable { balances[msg.sender] += msg.value; }
}
"""
VAULT = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
import "./Base.sol";
contract Vault is Base {
    function withdraw() external {
        uint256 amount = balances[msg.sender];
        (bool ok, ) = msg.sender.call{value: amount}("");
        require(ok);
        balances[msg.sender] = 0;
    }
}
"""
KILL = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
import "./Base.sol";
contract Killable is Base {
    function kill() external { selfdestruct(payable(msg.sender)); }
}
"""
BROKEN = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
import "./Base.sol";
contract Broken is Base { function f() external { undefinedThing(); } }
"""
OLD = """pragma solidity ^0.4.24;
contract Old {
    function pay(address to) public { to.transfer(this.balance); }
}
"""


def _project(root: Path, broken: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    files = {"Base.sol": BASE, "Vault.sol": VAULT, "Killable.sol": KILL, "Old.sol": OLD}
    if broken:
        files["Broken.sol"] = BROKEN
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def _audit(target: Path, results: Path, *extra: str) -> dict:
    out = results.parent / f"report-{len(list(results.parent.glob('report-*')))}.json"
    proc = subprocess.run([str(SOLSENTRY), "audit", str(target), "--tools", "slither", "--review", "none",
                           "--format", "json", "--out", str(out), "--fail-on", "none", "-q", *extra],
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                          env={**os.environ, "SOLSENTRY_RESULTS_DIR": str(results)})
    assert proc.returncode in (0, 1, 2), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return json.loads(out.read_text())


def _findings(report: dict) -> set[tuple]:
    return {(f["locations"][0]["file"], r["detector"], f["locations"][0]["start_line"])
            for f in report["findings"] for r in f["reporters"]}


def _runs(report: dict) -> dict[str, dict]:
    return {r["unit"]: r for r in report["tool_runs"] if r["tool"] == "slither"}


def test_group_compiles_once_and_splits_out_a_broken_member(tmp_path):
    from auditor.group_stage import run_group_stage

    target = load_target(_project(tmp_path / "p"))
    planned = [p for p in plan(target, {}, 10**7) if p.work.file != "Old.sol"]
    works = tuple(p.work for p in sorted(planned, key=lambda p: p.work.file))
    result = run_group_stage(works, (SlitherTool(),), ("Old.sol",))
    # Broken.sol is named in solc's error: it goes back for its own stage; the rest compile together.
    assert result.redo == ["Broken.sol"]
    assert sorted(result.stages) == ["Base.sol", "Killable.sol", "Vault.sol"]
    assert result.compiles == 2
    vault = result.stages["Vault.sol"].outcomes["slither"]
    assert vault.state == "ok"
    assert any(f.detector.startswith("reentrancy") for f in vault.findings)
    # Each finding is handed to the member whose file holds it.
    for file, stage in result.stages.items():
        assert all(f.locations[0].file == file for f in stage.outcomes["slither"].findings)
    assert [c.name for c in result.stages["Vault.sol"].contracts] == ["Vault"]


def _slither_one_build(root: Path, files: list[str], solc: str) -> set[tuple]:
    """What `slither .` reports on one standard-JSON build of `files` (crytic-compile compiles them,
    not SolSentry): (file, detector, first line) of each result's first located element."""
    code = f"""
import inspect, json, os, sys
from crytic_compile import CryticCompile
from crytic_compile.platform.solc_standard_json import SolcStandardJson
from slither import Slither
from slither.detectors import all_detectors
from slither.detectors.abstract_detector import AbstractDetector
os.chdir({str(root)!r})
platform_ = SolcStandardJson()
platform_.add_source_files({files!r})
sl = Slither(CryticCompile(platform_, solc={solc!r}))
for d in vars(all_detectors).values():
    if inspect.isclass(d) and issubclass(d, AbstractDetector) and d is not AbstractDetector:
        sl.register_detector(d)
out = []
for results in sl.run_detectors():
    for r in results:
        el = next((e for e in r["elements"] if (e.get("source_mapping") or {{}}).get("lines")), None)
        if el:
            sm = el["source_mapping"]
            out.append([os.path.relpath(sm["filename_absolute"], {str(root)!r}), r["check"], min(sm["lines"])])
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {tuple(x) for x in json.loads(proc.stdout.strip().splitlines()[-1])}


def test_project_audit_has_every_finding_of_slither_on_one_build(tmp_path):
    root = _project(tmp_path / "p")
    report = _audit(root, tmp_path / "r1")
    files = {f["path"]: f for f in report["files"]}
    assert {p: f["status"] for p, f in files.items()} == {
        "Base.sol": "compiled", "Broken.sol": "error", "Killable.sol": "compiled", "Old.sol": "compiled",
        "Vault.sol": "compiled"}
    assert "undefinedThing" in files["Broken.sol"]["error"]
    assert files["Old.sol"]["solc"].startswith("0.4.") and files["Vault.sol"]["solc"].startswith("0.8.")
    # The anchor: Slither itself on one build of the files that compile with that compiler.
    solc = next(r for r in report["files"] if r["path"] == "Vault.sol")["solc"]
    from auditor.solc.provider import SolcProvider

    binary = SolcProvider(install=False).ensure(solc)
    anchor = _slither_one_build(root, ["Base.sol", "Killable.sol", "Vault.sol"], str(binary.path))
    # A merged finding lists every place its tools named (the most specific first): it matches an
    # anchor result through any of them. Every anchor result is there, and nothing else.
    ours = [{(loc["file"], r["detector"], loc["start_line"]) for loc in f["locations"] for r in f["reporters"]}
            for f in report["findings"] if f["locations"][0]["file"] != "Old.sol"]
    assert anchor and anchor <= set().union(*ours)
    assert all(places & anchor for places in ours)
    assert {"reentrancy-eth", "suicidal"} <= {d for _, d, _ in anchor}


def test_edit_reanalyzes_only_the_files_whose_unit_changed(tmp_path):
    root = _project(tmp_path / "p", broken=False)
    results = tmp_path / "r"
    first = _audit(root, results)
    assert not any(r["cached"] for r in _runs(first).values())
    (root / "Killable.sol").write_text(KILL.replace("selfdestruct", "// selfdestruct") + "\n")
    second = _audit(root, results)
    runs = _runs(second)
    assert not runs["Killable.sol"]["cached"]
    assert all(runs[f]["cached"] for f in ("Base.sol", "Vault.sol", "Old.sol"))
    assert "suicidal" not in {d for _, d, _ in _findings(second)}
    # An edit of the base invalidates every file that imports it, not the unrelated one.
    (root / "Base.sol").write_text(BASE + "\n// edited\n")
    third = _runs(_audit(root, results))
    assert not any(third[f]["cached"] for f in ("Base.sol", "Vault.sol", "Killable.sol"))
    assert third["Old.sol"]["cached"]


def test_unchanged_rerun_is_answered_from_the_memo_and_checked_by_content(tmp_path):
    root = _project(tmp_path / "p", broken=False)
    results = tmp_path / "r"
    first = _audit(root, results)
    again = _audit(root, results)
    assert all(r["cached"] for r in again["tool_runs"])
    assert _findings(again) == _findings(first)
    assert again["target"] == first["target"]
    # Same size and modification time, other content: the memo's hash check refuses it.
    vault = root / "Vault.sol"
    st = vault.stat()
    vault.write_text(VAULT.replace("balances[msg.sender] = 0;", "balances[msg.sender] = 1;"))
    os.utime(vault, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert vault.stat().st_size == st.st_size
    changed = _audit(root, results)
    assert not _runs(changed)["Vault.sol"]["cached"]
    assert any(f["sha256"] != g["sha256"] for f, g in zip(changed["files"], first["files"], strict=True))
