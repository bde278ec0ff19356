"""`solsentry finetune crossdata` end to end on two tiny labelled datasets of the `labels` format:
real Slither audits, real (few-step) LoRA training, scored with the eval protocol. The model is too
small to be good; the test checks the protocol: folds, transfer both ways, tables, pair rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.pipeline import AuditOptions, audit

ROOT = Path(__file__).resolve().parents[2]

VULN = """pragma solidity ^0.8.0;
contract Bank{n} {{
    mapping(address => uint256) public balances;
    function deposit() external payable {{ balances[msg.sender] += msg.value; }}
    function withdraw(uint256 amount) external {{
        require(balances[msg.sender] >= amount);
        (bool ok, ) = msg.sender.call{{value: amount}}("");
        require(ok);
        balances[msg.sender] -= amount;
    }}
    function kill() external {{ selfdestruct(payable(msg.sender)); }}
}}
"""
FIXED = """pragma solidity ^0.8.0;
contract Safe{n} {{
    mapping(address => uint256) public balances;
    address private owner = msg.sender;
    function deposit() external payable {{ balances[msg.sender] += msg.value; }}
    function withdraw(uint256 amount) external {{
        require(balances[msg.sender] >= amount);
        balances[msg.sender] -= amount;
        (bool ok, ) = msg.sender.call{{value: amount}}("");
        require(ok);
    }}
    function kill() external {{ require(msg.sender == owner); selfdestruct(payable(owner)); }}
}}
"""


def _dataset(root: Path, name: str, n: int) -> tuple[Path, Path]:
    root.mkdir()
    files = []
    for i in range(n):
        (root / f"bank{i}.sol").write_text(VULN.format(n=i))
        (root / f"safe{i}.sol").write_text(FIXED.format(n=i))
        files += [{"path": f"bank{i}.sol", "labels": [{"swc": "SWC-107", "lines": [7]},
                                                       {"category": "unprotected_selfdestruct", "lines": [11]}]},
                  {"path": f"safe{i}.sol", "labels": []}]
    subsets = {"vulnerable": [f"bank{i}.sol" for i in range(n)], "fixed": [f"safe{i}.sol" for i in range(n)]}
    (root / "labels.json").write_text(json.dumps({"name": name, "files": files, "subsets": subsets}))
    report = audit(root, AuditOptions(tools=("slither",), review="none"))
    out = root.parent / f"{name}.json"
    out.write_text(report.to_json())
    return root, out


@pytest.mark.slow
def test_crossdata_scores_both_ways_with_thresholds_from_the_other_side(tmp_path, solsentry):
    a, ra = _dataset(tmp_path / "a", "alpha", 3)
    b, rb = _dataset(tmp_path / "b", "beta", 2)
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text((ROOT / "finetune" / "recipes" / "review-minilm.yaml").read_text()
                      + "\nmax_steps: 4\nepochs: 1\n")
    out = tmp_path / "run"
    proc = solsentry("finetune", "crossdata", "--dataset", "labels", str(a), str(ra), "--dataset", "labels", str(b),
                     str(rb), "--folds", "2", "--recipe", str(recipe), "--out", str(out), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "crossdata.json").read_text())
    titles = [e["title"] for e in doc["experiments"]]
    assert titles == ["2-fold within alpha", "2-fold within beta", "trained on alpha, scored on beta",
                      "trained on beta, scored on alpha"]
    for e in doc["experiments"]:
        tools = e["scores"]["tools"]["scopes"][0]["tools"]["merged"]["total"]
        assert tools["labels"] == (6 if e["dataset"] == "alpha" else 4)
        assert set(e["pairs"]) == {"vulnerable", "fixed", "fixed_to_vulnerable"}
        assert e["triage"]["tool_true_positives"] >= 1
    # a transfer uses the thresholds its source's folds chose
    assert doc["experiments"][2]["thresholds"] == doc["experiments"][0]["thresholds"]
    md = (out / "crossdata.md").read_text()
    assert "| trained on alpha, scored on beta |" in md and "By SWC id" in md and "SWC-107" in md
    assert (out / "kfold-alpha" / "crossval.json").is_file() and (out / "transfer-alpha" / "model").is_dir()
    # models trained now read the code facts in their triage text (and say so in their config)
    assert json.loads((out / "transfer-alpha" / "model" / "review.json").read_text())["triage_facts"] is True
    assert "Traceback" not in proc.stderr


def test_crossdata_needs_two_datasets(tmp_path, solsentry):
    (tmp_path / "x.json").write_text("{}")
    proc = solsentry("finetune", "crossdata", "--dataset", "labels", str(tmp_path), str(tmp_path / "x.json"),
                     "--out", str(tmp_path / "o"), timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
